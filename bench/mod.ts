/**
 * @module
 * `deno task bench`: how fast the engine crawls, against the fastest a crawler could go.
 *
 * 1. A generated site (5,000 pages of ~50 KB with 300 links each, all reachable from `/`) is
 *    served on 127.0.0.1 by a separate process, so serving does not share the crawlers' CPU
 *    time or event loop.
 * 2. Each round crawls the whole site three times, each crawl in a fresh process at the same
 *    concurrency: a bare `fetch` + regular-expression loop (the limit no crawler can beat), the
 *    real engine with a declarative whole-site rule set parsed in workers (the default), and the
 *    same with parsing on the main thread. The best round of each counts: other processes on the
 *    machine can only slow a crawl down.
 * 3. The visited set's bytes per URL after 1,000,000 distinct URLs.
 * 4. What finding a page's links costs: a DOM, the anchor scan, one regular expression.
 * 5. The douban fixture crawled through the real CLI in standalone mode.
 * 6. How fast the results sinks (SQLite, Postgres) store and upsert items.
 *
 *   deno task bench [--pages=5000] [--links=300] [--concurrency=16] [--rounds=3] [--workers=N]
 */
import type { CrawlFigures } from "./_process_stats.ts";
import { benchDoubanStandalone } from "./douban_standalone.ts";
import { benchVisitedSet } from "./visited_set_memory.ts";
import { measureParseCost } from "./parse_cost.ts";
import { wholeSiteSpec } from "./engine_crawl.ts";
import { benchSinks } from "./sink_write.ts";

/** The engine's pages/s must be at least this fraction of the bare loop's. */
const RATIO_TARGET = 0.6;
/** The visited set must cost less than this per URL. */
const BYTES_PER_URL_TARGET = 32;

function flag(name: string, fallback: number): number {
  const arg = Deno.args.find((a) => a.startsWith(`--${name}=`));
  const value = arg ? Number(arg.slice(name.length + 3)) : fallback;
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name}: expected a number`);
  return value;
}

const pages = flag("pages", 5000);
const links = flag("links", 300);
const concurrency = flag("concurrency", 16);
const rounds = Math.max(1, flag("rounds", 3));
const workersArg = Deno.args.find((a) => a.startsWith("--workers="));
const here = (file: string) => new URL(file, import.meta.url).pathname;

/** Starts the site server; resolves once it listens. */
async function startSite(): Promise<{ url: string; bytes: number; close(): Promise<void> }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", here("site_server.ts"), `--pages=${pages}`, `--links=${links}`],
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

/** Runs one crawl in its own process; resolves with the figures it printed. */
async function crawl(script: string, args: string[]): Promise<CrawlFigures> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", here(script), ...args],
    stdin: "null",
    stderr: "inherit",
  }).output();
  const lines = new TextDecoder().decode(output.stdout).trim().split("\n");
  if (output.code !== 0) throw new Error(`${script} exited with ${output.code}`);
  return JSON.parse(lines[lines.length - 1]) as CrawlFigures;
}

const rate = (f: CrawlFigures) => f.pages / f.seconds;
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

function line(label: string, f: CrawlFigures): string {
  const cpu = f.cpuSeconds === undefined ? "" : `, ${f.cpuSeconds.toFixed(2)} s CPU`;
  return `${label.padEnd(48)} ${fmt(rate(f)).padStart(6)} pages/s  peak RSS ${
    mb(f.peakRssBytes).padStart(8)
  }  (${f.pages} pages in ${f.seconds.toFixed(2)} s${cpu}, ${f.failed} failed)`;
}

const kinds = [
  { label: "bare fetch + regex loop", script: "bare_crawl.ts", args: [] as string[] },
  {
    label: "engine, declarative, parse workers",
    script: "engine_crawl.ts",
    args: workersArg ? [workersArg] : [],
  },
  {
    label: "engine, declarative, main-thread parse",
    script: "engine_crawl.ts",
    args: ["--workers=0"],
  },
];

const site = await startSite();
const best: Array<CrawlFigures | undefined> = kinds.map(() => undefined);
try {
  console.log(
    `site: ${fmt(pages)} pages of ${fmt(site.bytes / 1024, 1)} KB on average, ${links} links ` +
      `each, served by its own process at ${site.url}; concurrency ${concurrency}`,
  );
  for (let round = 1; round <= rounds; round++) {
    for (const [i, kind] of kinds.entries()) {
      const figures = await crawl(kind.script, [
        site.url,
        `--concurrency=${concurrency}`,
        ...kind.args,
      ]);
      console.log(line(`round ${round}: ${kind.label}`, figures));
      if (!best[i] || rate(figures) > rate(best[i]!)) best[i] = figures;
    }
  }
} finally {
  await site.close();
}

console.log(`\nbest of ${rounds} rounds:`);
for (const [i, kind] of kinds.entries()) console.log(line(kind.label, best[i]!));
const [bare, engine, inline] = best as CrawlFigures[];
const ratio = rate(engine) / rate(bare);
console.log(
  `ratio engine / bare: ${ratio.toFixed(2)} with parse workers, ${
    (rate(inline) / rate(bare)).toFixed(2)
  } parsing on the main thread (target ≥ ${RATIO_TARGET}: ${
    ratio >= RATIO_TARGET ? "met" : "NOT met"
  })`,
);

const visited = benchVisitedSet();
console.log(
  `visited set: ${fmt(visited.urls)} distinct URLs in ${mb(visited.tableBytes)}, ` +
    `${visited.bytesPerUrl.toFixed(1)} bytes per URL (target < ${BYTES_PER_URL_TARGET}: ${
      visited.bytesPerUrl < BYTES_PER_URL_TARGET ? "met" : "NOT met"
    }), ${fmt(visited.urls / visited.milliseconds * 1000)} adds/s`,
);

console.log("parse cost per page (main thread):");
for (const cost of measureParseCost(wholeSiteSpec)) {
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

const incomplete = best.some((f) => f!.pages !== pages || f!.failed > 0);
if (incomplete) console.error("a crawl did not fetch every page of the site exactly once");
if (incomplete || douban.exitCode !== 0) Deno.exit(1);
