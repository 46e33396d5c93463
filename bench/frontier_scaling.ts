/**
 * @module
 * The bench's scaling figure: one task crawled by 1, then by 2 engine processes sharing a
 * Postgres frontier (the same crawl id), on a generated site that answers each page after
 * 50 ms — so no run is bound by CPU, and two workers should crawl about twice as fast.
 */
import type { CrawlFigures } from "./_process_stats.ts";

/** What a crawl process prints: its figures and when (epoch ms) its crawl began and ended. */
type TimedFigures = CrawlFigures & { crawlStart: number; crawlEnd: number };

/** Options for {@linkcode benchFrontierScaling}. */
export interface FrontierScalingOptions {
  postgresUrl: string;
  /** Fetch concurrency of each process. */
  concurrency: number;
  /** Starts a site server with extra flags (`bench/mod.ts`'s). */
  startSite: (extra: string[]) => Promise<{ url: string; close(): Promise<void> }>;
  /** Runs one crawl script in its own process (`bench/mod.ts`'s). */
  crawl: (script: string, args: string[]) => Promise<CrawlFigures>;
  /** Pages on the site. Default 4000. */
  pages?: number;
  /** Delay of every answer, ms. Default 50. */
  latencyMs?: number;
}

/** Crawls with 1 and 2 processes; resolves with lines to print and whether both were whole. */
export async function benchFrontierScaling(
  options: FrontierScalingOptions,
): Promise<{ lines: string[]; complete: boolean }> {
  const pages = options.pages ?? 4000;
  const latencyMs = options.latencyMs ?? 50;
  const site = await options.startSite([`--pages=${pages}`, `--latency=${latencyMs}`]);
  const lines = [
    `scaling: ${pages} pages answered after ${latencyMs} ms, concurrency ${options.concurrency} ` +
    `per process, one task on a shared Postgres frontier`,
  ];
  let complete = true;
  const rates: number[] = [];
  try {
    for (const processes of [1, 2]) {
      const crawlId = `scaling-${processes}-${crypto.randomUUID()}`;
      // Every process starts crawling at this instant, its start-up done: the figure is the
      // crawl's, not how long Deno takes to start a process.
      const startAt = Date.now() + 3000;
      const runs = await Promise.all(
        Array.from({ length: processes }, (_, i) =>
          options.crawl("engine_crawl.ts", [
            site.url,
            `--concurrency=${options.concurrency}`,
            `--frontier=${options.postgresUrl}`,
            `--crawl=${crawlId}`,
            `--owner=bench-${i + 1}`,
            `--start-at=${startAt}`,
          ]) as Promise<TimedFigures>),
      );
      const fetched = runs.reduce((n, r) => n + r.pages, 0);
      const seconds = (Math.max(...runs.map((r) => r.crawlEnd)) -
        Math.min(...runs.map((r) => r.crawlStart))) / 1000;
      const rate = fetched / seconds;
      rates.push(rate);
      if (fetched !== pages || runs.some((r) => r.failed > 0)) complete = false;
      lines.push(
        `  ${processes} process${processes > 1 ? "es" : ""}: ${
          Math.round(rate)
        } pages/s (${fetched} pages in ${seconds.toFixed(2)} s; per process: ${
          runs.map((r) => r.pages).join(" + ")
        }; CPU ${runs.map((r) => `${r.cpuSeconds?.toFixed(1) ?? "?"} s`).join(" + ")})`,
      );
    }
  } finally {
    await site.close();
  }
  lines.push(`  2 processes / 1 process: ${(rates[1] / rates[0]).toFixed(2)}× (target ≥ 1.8)`);
  return { lines, complete };
}
