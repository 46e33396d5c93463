/**
 * @module
 * What a revisit costs (`deno task bench --profile=recrawl`, issue 21): a standalone worker (the
 * real CLI) crawls a 1,000-article site (16 KB pages) that sends ETag and Last-Modified with `Recrawl =
 * {Interval = "2s"}`, then revisits it. Reports, for the second pass: the share of 304s the site
 * sent, the rows rewritten in the results table, and the bytes the site sent against the first
 * pass's (status lines and headers included).
 */
import { DatabaseSync } from "node:sqlite";
import { spawnCrawler } from "../tests/kit/cli.ts";
import { writeConfig } from "../tests/kit/config.ts";
import { waitFor } from "../tests/kit/wait.ts";
import { recrawlTask, startRecrawlFixture } from "../tests/recrawl_fixture.ts";

/** The second pass: at least this share of 304s at the server… */
export const NOT_MODIFIED_TARGET = 0.99;
/** …and under this share of the first pass's bytes. */
export const BYTES_TARGET = 0.05;

/** Boilerplate per article (scripts, navigation): a light real page's ~16 KB of HTML. */
export const PAD_BYTES = 16_000;

/** What {@linkcode benchRecrawl} measured. */
export interface RecrawlFigures {
  pages: number;
  firstPassSeconds: number;
  firstPassBytes: number;
  secondPassSeconds: number;
  secondPassBytes: number;
  /** Of the second pass's responses. */
  notModified: number;
  /** Rows whose `time` moved during the second pass. */
  rowsRewritten: number;
}

/** Rows of the results table and the latest `time` among them. */
function rowTimes(path: string): Map<string, number> {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    if (!db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'fresh'").get()) return new Map();
    const rows = db.prepare(`SELECT item_key, time FROM "fresh"`).all() as Array<
      { item_key: string; time: number }
    >;
    return new Map(rows.map((r) => [r.item_key, r.time]));
  } finally {
    db.close();
  }
}

/** Crawls the site twice (a pass and its revisit) and measures the second against the first. */
export async function benchRecrawl(
  options: { lists?: number; perList?: number; intervalSeconds?: number; padBytes?: number } = {},
): Promise<RecrawlFigures> {
  const site = startRecrawlFixture({
    lists: options.lists ?? 20,
    perList: options.perList ?? 50,
    padBytes: options.padBytes ?? PAD_BYTES,
  });
  const dir = await Deno.makeTempDir({ prefix: "bench_recrawl_" });
  const intervalSeconds = options.intervalSeconds ?? 2;
  const config = await writeConfig(`${dir}/config.toml`, {
    logLevel: "warn",
    fetcher: { timeout: 5000, concurrency: 16 },
    frontier: { url: `sqlite:${dir}/frontier.db` },
    storage: { sqlURL: `sqlite:${dir}/results.db` },
    Tasks: [recrawlTask(site.url, { Interval: `${intervalSeconds}s`, Adaptive: false })],
  });
  const child = spawnCrawler(["worker", "--cluster=false", `--config=${config}`]);
  // Read what it prints, or its pipes fill and it blocks.
  const drained = Promise.all(
    [child.stdout, child.stderr].map((s) => s.pipeTo(new WritableStream())),
  );
  const pages = site.pages;
  const visited = (n: number) => site.hits.length >= n * pages;
  try {
    const started = performance.now();
    await waitFor(() => visited(1), { what: "the first pass", timeoutMs: 120_000 });
    const firstPassSeconds = (performance.now() - started) / 1000;
    const first = site.hits.slice(0, pages);
    const rowsBefore = rowTimes(`${dir}/results.db`);
    await waitFor(() => visited(2), {
      what: "the second pass",
      timeoutMs: 120_000 + intervalSeconds * 1000,
    });
    const second = site.hits.slice(pages, 2 * pages);
    const secondPassSeconds = (second.at(-1)!.at - second[0].at) / 1000;
    const rowsAfter = rowTimes(`${dir}/results.db`);
    let rowsRewritten = 0;
    for (const [key, time] of rowsAfter) if (rowsBefore.get(key) !== time) rowsRewritten++;
    const bytes = (hits: typeof first) => hits.reduce((sum, h) => sum + h.wireBytes, 0);
    return {
      pages,
      firstPassSeconds,
      firstPassBytes: bytes(first),
      secondPassSeconds,
      secondPassBytes: bytes(second),
      notModified: second.filter((h) => h.status === 304).length,
      rowsRewritten,
    };
  } finally {
    child.kill("SIGINT");
    await child.status;
    await drained;
    await site.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** True when the second pass meets the targets. */
export function recrawlMet(f: RecrawlFigures): boolean {
  return f.notModified >= NOT_MODIFIED_TARGET * f.pages && f.rowsRewritten === 0 &&
    f.secondPassBytes < BYTES_TARGET * f.firstPassBytes;
}

/** The figures as one line. */
export function recrawlLine(f: RecrawlFigures): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
  return `recrawl: ${f.pages} pages; first pass ${f.firstPassSeconds.toFixed(1)} s, ` +
    `${f.firstPassBytes} B; second pass ${f.secondPassSeconds.toFixed(1)} s, ` +
    `304s ${pct(f.notModified / f.pages)} (target ≥ ${pct(NOT_MODIFIED_TARGET)}), ` +
    `rows rewritten ${f.rowsRewritten} (target 0), bytes ${f.secondPassBytes} = ` +
    `${pct(f.secondPassBytes / f.firstPassBytes)} of the first pass (target < ${
      pct(BYTES_TARGET)
    }) — ${recrawlMet(f) ? "met" : "NOT met"}`;
}
