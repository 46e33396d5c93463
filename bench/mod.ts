/**
 * @module
 * `deno task bench`: how fast and how big the engine crawls, against the fastest a crawler could
 * go.
 *
 * 1. The realistic profile: a documentation-like site (2,000 pages of ~100 KB with ~300 links of
 *    every kind, long text, tables, a few pages of ~2.5 MB; `realistic_site.ts`) served on
 *    127.0.0.1 by a separate process, so serving does not share the crawlers' CPU time or event
 *    loop. Each round crawls it whole, each crawl in a fresh process at the same concurrency:
 *    a bare `fetch` + regular-expression loop (the limit no crawler can beat), the engine with a
 *    declarative rule set reading the title by regular expression, and the same with the title
 *    and two more fields by CSS selector (the streaming engine): in the article (for the targets)
 *    and in the footer (every page read to its end). Pages/s, CPU seconds and peak
 *    RSS of each; the median round of each counts, and the targets are ratios within the run
 *    (other processes on the machine slow every crawl alike). `--dom` adds one round of the
 *    selector rules forced through linkedom's DOM, for comparison.
 * 2. The generated profile: 5,000 pages of ~50 KB that are mostly links, crawled bare, by the
 *    engine with parse workers, and with parsing on the main thread.
 * 3. The visited set's bytes per URL after 1,000,000 URLs.
 * 4. What finding a page's links and fields costs: a DOM, the anchor scan, the streaming pass.
 * 5. The douban fixture crawled through the real CLI in standalone mode.
 * 6. How fast the results sinks (SQLite, Postgres) store and upsert items.
 * 7. What politeness costs: a site on 20 hosts (loopback ports, 100 pages each, links across
 *    hosts) crawled with the SQLite frontier, politeness off and on (robots.txt per host, the
 *    per-host schedule in the frontier's database), best of the rounds.
 *
 * 8. Only when asked, as they take minutes: `--profile=broad` (`broad_profile.ts`), a broad crawl
 *    through the CLI over many hosts on loopback addresses, a reference run without delay on a
 *    few hundred hosts, then the broad run with a delay, then one host at concurrency 8 and 16;
 *    `--profile=frontier-scale` (`claim_latency.ts`), claim latency on a Postgres frontier of
 *    1,000,000 URLs over 100,000 hosts, 90 % of them not due, claimed back to back and at a
 *    worker's pace; `--profile=export`
 *    (`export_speed.ts`), `crawler export` of a 1,000,000-row SQLite table as JSONL and CSV:
 *    rows/s and peak RSS; `--profile=render` (`render_profile.ts`), a shop built by JavaScript
 *    crawled in Chromium through the CLI: pages/s and the Chromium tree's peak memory;
 *    `--profile=sitemap` (`sitemap_memory.ts`), a 45 MB, 50,000-URL sitemap, plain and gzipped,
 *    read by a standalone worker: its peak RSS above its idle RSS.
 *
 *   deno task bench [--profile=all|realistic|generated] [--pages=N] [--links=300]
 *                   [--concurrency=16] [--rounds=3] [--workers=N] [--dom]
 *   deno task bench --profile=broad [--hosts=50000] [--pages=6] [--delay=2000]
 *                   [--concurrency=64] [--ref-hosts=500] [--one-host-pages=3000] [--rounds=3]
 *                   [--stall=60] [--timeout=1800]
 *   deno task bench --profile=frontier-scale [--urls=1000000] [--hosts=100000] [--claimers=4]
 *                   [--claims=300] [--limit=64] [--seconds=120] [--pace=1000]
 *                   [--paced-claims=100]
 *   deno task bench --profile=export [--rows=1000000]
 *   deno task bench --profile=render [--pages=300] [--retire=200] [--max-pages=4]
 *   deno task bench --profile=sitemap [--urls=50000]
 */
import { benchFrontierScaling } from "./frontier_scaling.ts";
import { startPostgres } from "../tests/kit/postgres.ts";
import type { CrawlFigures } from "./_process_stats.ts";
import { benchDoubanStandalone } from "./douban_standalone.ts";
import { benchVisitedSet } from "./visited_set_memory.ts";
import { measureParseCost } from "./parse_cost.ts";
import { benchSinks } from "./sink_write.ts";
import { benchPoliteness } from "./politeness_cost.ts";
import { benchBroad } from "./broad_profile.ts";
import { benchClaimLatency } from "./claim_latency.ts";
import { benchRender, RENDER_TREE_TARGET_BYTES, renderLine } from "./render_profile.ts";
import { benchSitemap, SITEMAP_RSS_TARGET_BYTES, sitemapLine } from "./sitemap_memory.ts";
import { benchRecrawl, recrawlLine, recrawlMet } from "./recrawl_profile.ts";
import {
  benchExport,
  EXPORT_RATE_TARGET,
  EXPORT_RSS_TARGET_BYTES,
  exportLine,
} from "./export_speed.ts";

/** Generated profile: the engine's pages/s must be at least this fraction of the bare loop's. */
const RATIO_TARGET = 0.6;
/** Realistic profile: regex rules' pages/s over the bare loop's. */
const REGEX_TARGET = 0.7;
/** Realistic profile: selector rules' pages/s over the regex rules'. */
const SELECTOR_TARGET = 0.4;
/** Realistic profile: peak RSS of either rule set over the bare loop's, at most. */
const RSS_TARGET = 1.5;
/** The visited set must cost less than this per URL. */
const BYTES_PER_URL_TARGET = 32;

function flag(name: string, fallback: number): number {
  const arg = Deno.args.find((a) => a.startsWith(`--${name}=`));
  const value = arg ? Number(arg.slice(name.length + 3)) : fallback;
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name}: expected a number`);
  return value;
}

const profile = Deno.args.find((a) => a.startsWith("--profile="))?.slice(10) ?? "all";
if (
  ![
    "all",
    "realistic",
    "generated",
    "broad",
    "frontier-scale",
    "export",
    "render",
    "sitemap",
    "recrawl",
  ].includes(profile)
) {
  throw new Error(
    "--profile: expected all, realistic, generated, broad, frontier-scale, export, render, " +
      "sitemap or recrawl",
  );
}
const pagesArg = Deno.args.find((a) => a.startsWith("--pages="));
const links = flag("links", 300);
const concurrency = flag("concurrency", 16);
const rounds = Math.max(1, flag("rounds", 3));
const workersArg = Deno.args.find((a) => a.startsWith("--workers="));
/** The engine on the SQLite frontier must reach this fraction of its in-memory-frontier figure. */
const SQLITE_FRONTIER_TARGET = 0.85;
const withDom = Deno.args.includes("--dom");
const here = (file: string) => new URL(file, import.meta.url).pathname;

// The broad and frontier-scale profiles run alone: each takes minutes.
if (profile === "broad") {
  const complete = await benchBroad({
    hosts: flag("hosts", 50_000),
    pages: flag("pages", 6),
    delayMs: flag("delay", 2000),
    concurrency: flag("concurrency", 64),
    refHosts: flag("ref-hosts", 500),
    oneHostPages: flag("one-host-pages", 3000),
    rounds,
    stallSeconds: flag("stall", 60),
    timeoutSeconds: flag("timeout", 1800),
  });
  if (!complete) console.error("a broad-profile crawl did not finish with every page fetched once");
  Deno.exit(complete ? 0 : 1);
}
if (profile === "render") {
  const options = {
    pages: flag("pages", 300),
    retireAfterPages: flag("retire", 200),
    maxPages: flag("max-pages", 4),
  };
  const figures = await benchRender(options);
  console.log(renderLine(figures, options));
  Deno.exit(figures.peakTreePssBytes < RENDER_TREE_TARGET_BYTES && figures.failed === 0 ? 0 : 1);
}
if (profile === "sitemap") {
  let met = true;
  for (const gzip of [false, true]) {
    const figures = await benchSitemap({ urls: flag("urls", 50_000), gzip });
    console.log(sitemapLine(figures));
    met &&= figures.peakRssBytes - figures.idleRssBytes < SITEMAP_RSS_TARGET_BYTES;
  }
  Deno.exit(met ? 0 : 1);
}
if (profile === "recrawl") {
  const figures = await benchRecrawl({
    lists: flag("lists", 20),
    perList: flag("per-list", 50),
    intervalSeconds: flag("interval", 2),
    padBytes: flag("pad", 16_000),
  });
  console.log(recrawlLine(figures));
  Deno.exit(recrawlMet(figures) ? 0 : 1);
}
if (profile === "export") {
  const figures = await benchExport({ rows: flag("rows", 1_000_000) });
  for (const f of figures) console.log(exportLine(f));
  const jsonl = figures.find((f) => f.format === "jsonl")!;
  const met = jsonl.rows / jsonl.exportSeconds >= EXPORT_RATE_TARGET &&
    jsonl.peakRssBytes <= EXPORT_RSS_TARGET_BYTES;
  Deno.exit(met ? 0 : 1);
}
if (profile === "frontier-scale") {
  const postgres = await startPostgres();
  let sound = false;
  try {
    sound = await benchClaimLatency({
      postgresUrl: postgres.url,
      urls: flag("urls", 1_000_000),
      hosts: flag("hosts", 100_000),
      claimers: flag("claimers", 4),
      claimsPerClaimer: flag("claims", 300),
      limit: flag("limit", 64),
      maxSeconds: flag("seconds", 120),
      pace: flag("pace", 1000),
      pacedClaims: flag("paced-claims", 100),
    });
  } finally {
    await postgres.dispose();
  }
  Deno.exit(sound ? 0 : 1);
}

/** Starts the site server; resolves once it listens. */
async function startSite(
  args: string[],
): Promise<{ url: string; bytes: number; close(): Promise<void> }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", here("site_server.ts"), ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await lines.read();
    if (done) throw new Error("the site server exited before it listened");
    text += value;
  }
  const info = JSON.parse(text.slice(0, text.indexOf("\n"))) as { url: string; bytes: number };
  return {
    ...info,
    async close() {
      // The server ends when its stdin closes.
      await child.stdin.close();
      await lines.cancel();
      await child.status;
    },
  };
}

/**
 * The V8 flags the crawler runs with (`deno task start`, `dev` and `compile` in deno.json): a
 * young generation of 4 MB per semi-space instead of 16 keeps each isolate (the main thread and
 * every parse worker) from holding up to ~36 MB of garbage between collections, for ~5% more
 * CPU. The engine crawls run with them, as users run the crawler; the bare loop runs as Deno
 * does by default.
 */
const ENGINE_V8_FLAGS = "--v8-flags=--max-semi-space-size=4";

/** Runs one crawl in its own process; resolves with the figures it printed. */
async function crawl(script: string, args: string[]): Promise<CrawlFigures> {
  const flags = script === "engine_crawl.ts" ? [ENGINE_V8_FLAGS] : [];
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", ...flags, here(script), ...args],
    stdin: "null",
    stderr: "inherit",
  }).output();
  const lines = new TextDecoder().decode(output.stdout).trim().split("\n");
  if (output.code !== 0) throw new Error(`${script} exited with ${output.code}`);
  return JSON.parse(lines[lines.length - 1]) as CrawlFigures;
}

const rate = (f: CrawlFigures) => f.pages / f.seconds;
const mib = (bytes: number) => bytes / 1024 / 1024;
const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

function line(label: string, f: CrawlFigures): string {
  const cpu = f.cpuSeconds === undefined ? "" : `, ${f.cpuSeconds.toFixed(2)} s CPU`;
  return `${label.padEnd(50)} ${fmt(rate(f)).padStart(6)} pages/s  peak RSS ${
    fmt(mib(f.peakRssBytes)).padStart(5)
  } MiB  (${f.pages} pages in ${f.seconds.toFixed(2)} s${cpu}, ${f.failed} failed)`;
}

interface Kind {
  label: string;
  script: string;
  args: string[];
  /** Rounds to run (default all). */
  rounds?: number;
}

/** Crawls `site` with every kind, `rounds` times; returns the median round of each kind. */
async function crawlRounds(
  site: { url: string },
  kinds: Kind[],
  pages: number,
): Promise<CrawlFigures[]> {
  const figures: CrawlFigures[][] = kinds.map(() => []);
  for (let round = 1; round <= rounds; round++) {
    for (const [i, kind] of kinds.entries()) {
      if (round > (kind.rounds ?? rounds)) continue;
      const f = await crawl(kind.script, [site.url, `--concurrency=${concurrency}`, ...kind.args]);
      console.log(line(`round ${round}: ${kind.label}`, f));
      if (f.pages !== pages || f.failed > 0) {
        throw new Error(
          `${kind.label}: the crawl did not fetch every page of the site exactly once`,
        );
      }
      figures[i].push(f);
    }
  }
  return figures.map((list) => {
    const sorted = [...list].sort((a, b) => rate(a) - rate(b));
    return sorted[Math.floor((sorted.length - 1) / 2)];
  });
}

const workers = workersArg ? [workersArg] : [];

if (profile !== "generated") {
  const pages = pagesArg ? flag("pages", 2000) : 2000;
  const site = await startSite(["--profile=realistic", `--pages=${pages}`]);
  // The engine as users run it: on the default frontier (SQLite), not the in-memory one.
  const asUsersRunIt = ["--frontier=sqlite:"];
  const kinds: Kind[] = [
    { label: "bare fetch + regex loop", script: "bare_crawl.ts", args: [] },
    {
      label: "engine, regex rules",
      script: "engine_crawl.ts",
      args: [...asUsersRunIt, ...workers],
    },
    {
      label: "engine, selector rules (streaming)",
      script: "engine_crawl.ts",
      args: ["--rules=selector", ...asUsersRunIt, ...workers],
    },
    {
      label: "engine, selector rules, a footer field",
      script: "engine_crawl.ts",
      args: ["--rules=selector-to-end", ...asUsersRunIt, ...workers],
    },
  ];
  if (withDom) {
    kinds.push({
      label: "engine, selector rules through the DOM",
      script: "engine_crawl.ts",
      args: ["--rules=selector-dom", ...asUsersRunIt, ...workers],
      rounds: 1,
    });
  }
  let medians: CrawlFigures[];
  try {
    console.log(
      `realistic profile: ${fmt(pages)} pages of ${fmt(site.bytes / 1024, 1)} KB on average ` +
        `(a few of ~2.5 MB), ~300 links each, served by its own process at ${site.url}; ` +
        `concurrency ${concurrency}`,
    );
    medians = await crawlRounds(site, kinds, pages);
  } finally {
    await site.close();
  }
  const [bare, regex, selector, toEnd] = medians;
  console.log(`\nrealistic profile, median of ${rounds} rounds:\n`);
  console.log("| crawl | pages/s | CPU s | peak RSS MiB |");
  console.log("| --- | ---: | ---: | ---: |");
  for (const [i, kind] of kinds.entries()) {
    const f = medians[i];
    console.log(
      `| ${kind.label} | ${fmt(rate(f))} | ${f.cpuSeconds?.toFixed(1) ?? "?"} | ${
        fmt(mib(f.peakRssBytes))
      } |`,
    );
  }
  const check = (label: string, value: number, target: number, atLeast: boolean) => {
    const met = atLeast ? value >= target : value <= target;
    console.log(
      `${label.padEnd(40)} ${value.toFixed(2)} (target ${atLeast ? "≥" : "≤"} ${target}: ${
        met ? "met" : "NOT met"
      })`,
    );
  };
  console.log("");
  check(
    "selector rules / regex rules, pages/s",
    rate(selector) / rate(regex),
    SELECTOR_TARGET,
    true,
  );
  check("regex rules / bare loop, pages/s", rate(regex) / rate(bare), REGEX_TARGET, true);
  check(
    "regex rules / bare loop, peak RSS",
    regex.peakRssBytes / bare.peakRssBytes,
    RSS_TARGET,
    false,
  );
  check(
    "selector rules / bare loop, peak RSS",
    selector.peakRssBytes / bare.peakRssBytes,
    RSS_TARGET,
    false,
  );
  console.log(
    `worst case, a footer field: selector / regex pages/s ${
      (rate(toEnd) / rate(regex)).toFixed(2)
    }, peak RSS / bare ${(toEnd.peakRssBytes / bare.peakRssBytes).toFixed(2)}`,
  );
  console.log("");
}

if (profile !== "realistic") {
  const pages = flag("pages", 5000);
  // The Postgres frontier's server: a real one on a free loopback port.
  const postgres = await startPostgres();
  const site = await startSite(["--profile=generated", `--pages=${pages}`, `--links=${links}`]);
  const kinds: Kind[] = [
    { label: "bare fetch + regex loop", script: "bare_crawl.ts", args: [] },
    { label: "engine, declarative, parse workers", script: "engine_crawl.ts", args: workers },
    {
      label: "engine, declarative, main-thread parse",
      script: "engine_crawl.ts",
      args: ["--workers=0"],
    },
    {
      label: "engine, parse workers, SQLite frontier",
      script: "engine_crawl.ts",
      args: ["--frontier=sqlite:", ...workers],
    },
    {
      label: "engine, parse workers, Postgres frontier",
      script: "engine_crawl.ts",
      args: [`--frontier=${postgres.url}`, ...workers],
    },
  ];
  let medians: CrawlFigures[];
  try {
    console.log(
      `generated profile: ${fmt(pages)} pages of ${fmt(site.bytes / 1024, 1)} KB on average, ` +
        `${links} links each, served by its own process at ${site.url}; concurrency ${concurrency}`,
    );
    medians = await crawlRounds(site, kinds, pages);
  } finally {
    await site.close();
  }
  console.log(`\ngenerated profile, median of ${rounds} rounds:`);
  for (const [i, kind] of kinds.entries()) console.log(line(kind.label, medians[i]));
  const [bare, engine, inline, sqliteFrontier, postgresFrontier] = medians;
  const ratio = rate(engine) / rate(bare);
  console.log(
    `ratio engine / bare: ${ratio.toFixed(2)} with parse workers, ${
      (rate(inline) / rate(bare)).toFixed(2)
    } parsing on the main thread (target ≥ ${RATIO_TARGET}: ${
      ratio >= RATIO_TARGET ? "met" : "NOT met"
    })`,
  );
  const sqliteRatio = rate(sqliteFrontier) / rate(engine);
  console.log(
    `engine by frontier: in memory ${fmt(rate(engine))} pages/s, SQLite ${
      fmt(rate(sqliteFrontier))
    } (${sqliteRatio.toFixed(2)} × in memory; target ≥ ${SQLITE_FRONTIER_TARGET}: ${
      sqliteRatio >= SQLITE_FRONTIER_TARGET ? "met" : "NOT met"
    }), Postgres ${fmt(rate(postgresFrontier))} (${
      (rate(postgresFrontier) / rate(engine)).toFixed(2)
    } × in memory)`,
  );
  // Under load from other processes wall time says little; CPU per page says what each costs.
  const cpuMs = (f: CrawlFigures) =>
    f.cpuSeconds === undefined ? "?" : (f.cpuSeconds / f.pages * 1000).toFixed(2);
  console.log(
    `engine CPU per page: in memory ${cpuMs(engine)} ms, SQLite ${cpuMs(sqliteFrontier)} ms, ` +
      `Postgres ${cpuMs(postgresFrontier)} ms (the Postgres server's own CPU not counted)`,
  );
  try {
    const scaling = await benchFrontierScaling({
      postgresUrl: postgres.url,
      concurrency,
      startSite,
      crawl,
    });
    for (const l of scaling.lines) console.log(l);
    if (!scaling.complete) throw new Error("a scaling crawl did not fetch every page exactly once");
  } finally {
    await postgres.dispose();
  }
  console.log("");
}

const visited = benchVisitedSet();
console.log(
  `visited set: ${fmt(visited.urls)} distinct URLs in ${fmt(mib(visited.tableBytes))} MiB, ` +
    `${visited.bytesPerUrl.toFixed(1)} bytes per URL (target < ${BYTES_PER_URL_TARGET}: ${
      visited.bytesPerUrl < BYTES_PER_URL_TARGET ? "met" : "NOT met"
    }), ${fmt(visited.urls / visited.milliseconds * 1000)} adds/s`,
);

console.log("parse cost per page (main thread, CPU time):");
for (const cost of measureParseCost()) {
  console.log(
    `  ${(cost.pageBytes / 1024).toFixed(0).padStart(4)} KB page, ${cost.method.padEnd(32)} ${
      cost.ms.toFixed(2).padStart(6)
    } ms (${cost.links} links)`,
  );
}

const douban = await benchDoubanStandalone(concurrency);
console.log(douban.summary);
console.log(
  `douban standalone (CLI): ${douban.pages} pages in ${douban.seconds.toFixed(2)} s wall, ` +
    `process start included: ${fmt(douban.pages / douban.seconds)} pages/s`,
);

for (const figure of await benchSinks()) console.log(figure);

const polite = await benchPoliteness(concurrency, rounds);
for (
  const [label, figures] of [["politeness off", polite.off], ["politeness on", polite.on]] as const
) {
  console.log(line(`${polite.hosts} hosts, ${label}`, figures));
}
console.log(
  `politeness costs ${((1 - rate(polite.on) / rate(polite.off)) * 100).toFixed(0)}% of pages/s ` +
    `and ${
      (((polite.on.cpuSeconds ?? 0) - (polite.off.cpuSeconds ?? 0)) / polite.on.pages * 1e6)
        .toFixed(0)
    } µs CPU per page (best of ${rounds} rounds each)`,
);
const politeIncomplete = [polite.off, polite.on].some((f) => f.pages !== polite.pages || f.failed);
if (politeIncomplete) console.error("a politeness crawl did not fetch every page once");

if (douban.exitCode !== 0 || politeIncomplete) Deno.exit(1);
