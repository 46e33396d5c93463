/**
 * @module
 * `deno task bench --profile=render`: the shop built by JavaScript (`tests/spa_fixture.ts`)
 * crawled through the real CLI in standalone mode with `Fetcher = "browser"`: pages/s, and the
 * memory of the worker's Chromium tree (every process with a profile in its browser dir),
 * sampled while it runs: the sum of their RSS (shared pages counted in each process) and of
 * their PSS (shared pages split between them: what the tree really holds). The target: the
 * tree's PSS stays under 1.2 GB with `retireAfterPages = 200`, over 2,000 pages
 * (`--pages=2000`).
 */
import { startSpaFixture } from "../tests/spa_fixture.ts";
import { processesWithProfileIn } from "../spider/browser/browser_processes.ts";

/** The Chromium tree must stay under this much memory (PSS), bytes. */
export const RENDER_TREE_TARGET_BYTES = 1.2 * 1024 ** 3;

/** Options of {@linkcode benchRender}. */
export interface RenderBenchOptions {
  /** Item pages of the site (plus a list page per 30). */
  pages: number;
  /** `[browser] retireAfterPages`. */
  retireAfterPages: number;
  /** `[browser] maxPages`. */
  maxPages: number;
}

/** What {@linkcode benchRender} measured. */
export interface RenderFigures {
  pages: number;
  items: number;
  failed: number;
  seconds: number;
  launches: number;
  /** Most the tree's processes' RSS summed to at one sample, bytes. */
  peakTreeRssBytes: number;
  /** Most the tree's processes' PSS summed to at one sample, bytes. */
  peakTreePssBytes: number;
  /** Most processes in the tree at one sample. */
  peakProcesses: number;
}

const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** Crawls the site once and returns the figures. */
export async function benchRender(options: RenderBenchOptions): Promise<RenderFigures> {
  const site = startSpaFixture({ items: options.pages });
  const dir = await Deno.makeTempDir({ prefix: "crawler_bench_render_" });
  const dataDir = `${dir}/browser`;
  try {
    await Deno.writeTextFile(
      `${dir}/config.toml`,
      `logLevel = "info"
[fetcher]
timeout = 10000
concurrency = ${Math.max(8, options.maxPages * 2)}
[browser]
maxPages = ${options.maxPages}
retireAfterPages = ${options.retireAfterPages}
dataDir = "${dataDir}"
[frontier]
url = "sqlite:${dir}/frontier.db"
[storage]
sqlURL = "sqlite:${dir}/results.db"

[[Tasks]]
Name = "shop"
URL = "${site.url}/app/"
MaxDepth = 1000
Fetcher = "browser"
Spec = {rules = {list = {links = [{selector = "a.item", rule = "item"}, {selector = "a.next", rule = "list"}]}, item = {output = {fields = {name = {selector = "h1.name"}, price = {selector = ".price"}}}}}}
`,
    );
    let peakRss = 0;
    let peakPss = 0;
    let peakProcesses = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const pids = processesWithProfileIn(dataDir);
        let rss = 0;
        let pss = 0;
        for (const pid of pids) {
          rss += memoryOf(pid, "/proc/PID/status", /^VmRSS:\s+(\d+) kB/m);
          pss += memoryOf(pid, "/proc/PID/smaps_rollup", /^Pss:\s+(\d+) kB/m);
        }
        peakRss = Math.max(peakRss, rss);
        peakPss = Math.max(peakPss, pss);
        peakProcesses = Math.max(peakProcesses, pids.length);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    })();
    const started = performance.now();
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        MAIN,
        "worker",
        "--cluster=false",
        `--config=${dir}/config.toml`,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", CRAWLER_TOKEN: "" },
    }).output();
    const seconds = (performance.now() - started) / 1000;
    sampling = false;
    await sampler;
    const stdout = new TextDecoder().decode(output.stdout);
    const stderr = new TextDecoder().decode(output.stderr);
    if (!output.success) throw new Error(`the render crawl failed:\n${stderr.slice(-2000)}`);
    const summary = /task shop: \w+, fetched=(\d+) failed=(\d+) items=(\d+)/.exec(stdout);
    if (!summary) throw new Error(`no summary in:\n${stdout}`);
    return {
      pages: Number(summary[1]),
      failed: Number(summary[2]),
      items: Number(summary[3]),
      seconds,
      launches: stderr.split("\n").filter((l) => l.includes('"msg":"browser started"')).length,
      peakTreeRssBytes: peakRss,
      peakTreePssBytes: peakPss,
      peakProcesses,
    };
  } finally {
    await site.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** The line `bench/mod.ts` prints. */
export function renderLine(f: RenderFigures, options: RenderBenchOptions): string {
  const mib = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(0)} MiB`;
  return `render: ${f.pages} pages (${f.items} items, ${f.failed} failed) in ` +
    `${f.seconds.toFixed(1)} s = ${(f.pages / f.seconds).toFixed(1)} pages/s at maxPages=` +
    `${options.maxPages}; ${f.launches} browsers (retireAfterPages=${options.retireAfterPages}); ` +
    `Chromium tree peak PSS ${mib(f.peakTreePssBytes)} (target < ${
      mib(RENDER_TREE_TARGET_BYTES)
    }), peak RSS summed ${mib(f.peakTreeRssBytes)}, ${f.peakProcesses} processes`;
}

/** A `kB` figure of `pid` from a /proc file, in bytes; 0 when the process is gone. */
function memoryOf(pid: number, file: string, pattern: RegExp): number {
  try {
    const match = pattern.exec(Deno.readTextFileSync(file.replace("PID", String(pid))));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}
