/**
 * @module
 * The politeness section of `deno task bench`: the multi-host site served by its own process,
 * crawled by `politeness_crawl.ts` in fresh processes with politeness off and on, alternately,
 * best round of each.
 */
import type { CrawlFigures } from "./_process_stats.ts";

const here = (file: string) => new URL(file, import.meta.url).pathname;

/** Best figures of each mode, and the site's size. */
export interface PolitenessFigures {
  hosts: number;
  pages: number;
  off: CrawlFigures;
  on: CrawlFigures;
}

/** Runs `rounds` crawls of each mode over a site of `hosts` hosts × `pagesPerHost` pages. */
export async function benchPoliteness(
  concurrency: number,
  rounds: number,
  options: { hosts?: number; pagesPerHost?: number } = {},
): Promise<PolitenessFigures> {
  const hosts = options.hosts ?? 20;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      here("multi_host_site.ts"),
      `--hosts=${hosts}`,
      `--pages=${options.pagesPerHost ?? 100}`,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) throw new Error("the multi-host site exited before it listened");
      text += value;
    }
    const site = JSON.parse(text.slice(0, text.indexOf("\n"))) as { urls: string[]; pages: number };
    const best: { off?: CrawlFigures; on?: CrawlFigures } = {};
    for (let round = 0; round < rounds; round++) {
      for (const mode of ["off", "on"] as const) {
        const figures = await crawl(site.urls[0], mode === "on", concurrency);
        const rate = (f: CrawlFigures) => f.pages / f.seconds;
        if (!best[mode] || rate(figures) > rate(best[mode]!)) best[mode] = figures;
      }
    }
    return { hosts, pages: site.pages, off: best.off!, on: best.on! };
  } finally {
    await child.stdin.close();
    await lines.cancel();
    await child.status;
  }
}

async function crawl(url: string, polite: boolean, concurrency: number): Promise<CrawlFigures> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      here("politeness_crawl.ts"),
      url,
      `--polite=${polite ? 1 : 0}`,
      `--concurrency=${concurrency}`,
    ],
    stdin: "null",
    stderr: "inherit",
  }).output();
  if (output.code !== 0) throw new Error(`politeness_crawl.ts exited with ${output.code}`);
  const lines = new TextDecoder().decode(output.stdout).trim().split("\n");
  return JSON.parse(lines[lines.length - 1]) as CrawlFigures;
}
