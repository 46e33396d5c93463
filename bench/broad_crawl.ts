/**
 * @module
 * One crawl of the broad profile, run as a user runs the crawler: the CLI in standalone mode
 * (`main.ts worker --cluster=false`) with a config written to a temporary directory, the
 * default SQLite frontier there, and a declarative rule that follows every `a[href]` and stores
 * the title. While it runs, the crawler's open file descriptors and memory are sampled from
 * `/proc` every 200 ms and the site's page count every second; a crawl whose count stops
 * moving for `stallSeconds` is a stall: the crawler is stopped and what it last printed kept.
 */
import { delay } from "../async/delay.ts";
import type { BroadSiteInfo, BroadSiteSummary } from "./broad_site.ts";
import { sampleProcess } from "./_process_stats.ts";

const here = (file: string) => new URL(file, import.meta.url).pathname;

/** The V8 flags `deno task start` runs the crawler with (see `bench/mod.ts`). */
const START_V8_FLAGS = "--v8-flags=--max-semi-space-size=4";

/** A broad site served by its own process. */
export interface BroadSiteProcess extends BroadSiteInfo {
  pid: number;
  /** Page and robots.txt requests so far. */
  count(): Promise<{ pageRequests: number; robotsRequests: number }>;
  /** The site's figures; `underMs` sets which gaps it counts. */
  summary(underMs?: number): Promise<BroadSiteSummary>;
  /** Stops the site's process. */
  close(): Promise<void>;
}

/** Starts `broad_site.ts` in its own process; resolves once it listens. */
export async function startBroadSite(
  options: { hosts: number; pages: number; fillerBytes?: number },
): Promise<BroadSiteProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      here("broad_site.ts"),
      `--hosts=${options.hosts}`,
      `--pages=${options.pages}`,
      `--filler=${options.fillerBytes ?? 4096}`,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const close = async () => {
    // The site ends when its stdin closes.
    await child.stdin.close().catch(() => {}); // already closed: a second close
    await lines.cancel();
    await child.status;
  };
  try {
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) throw new Error("the broad site exited before it listened");
      text += value;
    }
    const info = JSON.parse(text.slice(0, text.indexOf("\n"))) as BroadSiteInfo;
    const get = async <T>(path: string): Promise<T> => {
      const response = await fetch(`${info.control}${path}`);
      if (!response.ok) throw new Error(`the broad site answered ${response.status} to ${path}`);
      return await response.json() as T;
    };
    return {
      ...info,
      pid: child.pid,
      count: () => get("/_count"),
      summary: (underMs = 0) => get(`/_stats?under=${underMs}`),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Options for {@linkcode crawlWithCli}. */
export interface CliCrawlOptions {
  /** Names the run in progress lines. */
  label: string;
  site: BroadSiteProcess;
  /** `fetcher.concurrency`. */
  concurrency: number;
  /** `politeness.perHostConcurrency`. */
  perHostConcurrency: number;
  /** `politeness.delayMs`. */
  delayMs: number;
  /** A crawl whose page count does not move for this long is stopped as stalled. Default 60. */
  stallSeconds?: number;
  /** The longest a crawl may run, seconds. Default 1800. */
  timeoutSeconds?: number;
  /** Where a progress line goes every `progressSeconds` (default 15); none without it. */
  print?: (line: string) => void;
  progressSeconds?: number;
}

/** How a CLI crawl ended. */
export type CrawlEnd =
  /** The CLI exited by itself with code 0. */
  | "finished"
  /** The CLI exited by itself with another code. */
  | "exited"
  /** The page count stopped moving; the crawler was stopped. */
  | "stalled"
  /** `timeoutSeconds` passed; the crawler was stopped. */
  | "timed out";

/** What one CLI crawl measured. */
export interface CliCrawlFigures {
  end: CrawlEnd;
  /** How it ended, in words. */
  endNote: string;
  exitCode: number;
  /** Seconds from starting the CLI to its exit (process start included). */
  wallSeconds: number;
  /** Seconds from the first to the last page request the site saw. */
  crawlSeconds: number;
  /** Page requests per second over `crawlSeconds`. */
  pagesPerSecond: number;
  site: BroadSiteSummary;
  /** Most open file descriptors of the crawler at one sample (every 200 ms). */
  maxFds: number;
  /** Most open file descriptors of the site's process (one socket per crawler connection). */
  siteMaxFds: number;
  /** The crawler's peak resident memory, bytes. */
  peakRssBytes: number;
  /** frontier.db + its WAL after the run, bytes. */
  frontierBytes: number;
  /** The most frontier.db + WAL held during the run, bytes (sampled every second). */
  peakFrontierBytes: number;
  /** URLs in the frontier at the end (done + failed + queued), from the CLI's last lines. */
  frontierUrls: number | undefined;
  /** The CLI's `summary:` and `task …:` lines. */
  summary: string[];
  /** The CLI's last progress line. */
  lastProgress: string | undefined;
  /** The last lines the CLI printed (stdout and stderr), for a crawl that did not finish. */
  lastLines: string[];
  /** Log records by level and message, most frequent first. */
  logCounts: Array<[string, number]>;
}

/** Keeps the last `size` lines, the summary lines and counts log records by message. */
class OutputTail {
  readonly lines: string[] = [];
  readonly summary: string[] = [];
  lastProgress: string | undefined;
  readonly #counts = new Map<string, number>();

  constructor(readonly size = 30) {}

  add(line: string): void {
    if (line.trim() === "") return;
    this.lines.push(line.length > 600 ? `${line.slice(0, 600)}…` : line);
    if (this.lines.length > this.size) this.lines.shift();
    if (line.startsWith("progress:")) this.lastProgress = line;
    else if (/^(summary|task \S+):/.test(line)) this.summary.push(line);
    if (line.startsWith("{")) {
      try {
        const record = JSON.parse(line) as { level?: string; msg?: string };
        const key = `${record.level ?? "?"} ${record.msg ?? "?"}`;
        // Bounded: a flood of distinct messages is counted under one key.
        const counted = this.#counts.has(key) || this.#counts.size < 100 ? key : "(other)";
        this.#counts.set(counted, (this.#counts.get(counted) ?? 0) + 1);
      } catch {
        // Not a log record after all (a line cut by the tail's length): shown, not counted.
      }
    }
  }

  counts(): Array<[string, number]> {
    return [...this.#counts].sort((a, b) => b[1] - a[1]);
  }
}

async function readLines(stream: ReadableStream<Uint8Array>, tail: OutputTail): Promise<void> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const parts = (rest + chunk).split("\n");
    rest = parts.pop() ?? "";
    for (const line of parts) tail.add(line);
  }
  tail.add(rest);
}

/** The config a user would write for this crawl. */
function configToml(dir: string, options: CliCrawlOptions): string {
  return `logLevel = "warn"

[fetcher]
concurrency = ${options.concurrency}

[politeness]
delayMs = ${options.delayMs}
perHostConcurrency = ${options.perHostConcurrency}

[frontier]
url = "sqlite:${dir}/frontier.db"

[storage]
sqlURL = "sqlite:${dir}/results.db"
batchSize = 500

[[Tasks]]
Name = "broad"
URL = "${options.site.root}"
MaxDepth = 1000000

[Tasks.Spec.rules.page]
links = [{rule = "page"}]
output = {fields = {title = {regex = '<title>([^<]*)</title>'}}}
`;
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await Deno.stat(path)).size;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return 0;
    throw error;
  }
}

/** Frontier URLs from the task's end line, else from the last progress line. */
function frontierUrls(tail: OutputTail): number | undefined {
  for (const line of tail.summary) {
    const m = /frontier: done=(\d+) failed=(\d+) queued=(\d+)/.exec(line);
    if (m) return Number(m[1]) + Number(m[2]) + Number(m[3]);
  }
  const m = /queued=(\d+) leased=(\d+) done=(\d+)/.exec(tail.lastProgress ?? "");
  return m ? Number(m[1]) + Number(m[2]) + Number(m[3]) : undefined;
}

/** Stops the crawler: SIGINT (it flushes and exits), SIGKILL if it has not after 15 s. */
async function stop(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGINT");
  } catch {
    return; // it has just exited by itself
  }
  const patience = new AbortController();
  const late = delay(15_000, { signal: patience.signal }).then(() => true, () => false);
  if (await Promise.race([child.status.then(() => false), late])) {
    try {
      child.kill("SIGKILL");
    } catch {
      // exited between the race and the kill
    }
  }
  patience.abort();
  await child.status;
}

/**
 * Crawls `options.site` whole through the CLI and measures it. Resolves with the figures also
 * when the crawl stalls, times out or the CLI fails (see `end`); the temporary directory is
 * removed either way.
 */
export async function crawlWithCli(options: CliCrawlOptions): Promise<CliCrawlFigures> {
  const stallMs = (options.stallSeconds ?? 60) * 1000;
  const timeoutMs = (options.timeoutSeconds ?? 1800) * 1000;
  const progressMs = (options.progressSeconds ?? 15) * 1000;
  const dir = await Deno.makeTempDir({ prefix: "crawler-broad-bench-" });
  const frontierSize = async () =>
    await fileSize(`${dir}/frontier.db`) + await fileSize(`${dir}/frontier.db-wal`);
  try {
    await Deno.writeTextFile(`${dir}/config.toml`, configToml(dir, options));
    const started = performance.now();
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        START_V8_FLAGS,
        here("../main.ts"),
        "worker",
        "--cluster=false",
        `--config=${dir}/config.toml`,
      ],
      cwd: dir,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    // Ctrl-C on the bench must not leave a crawler running on its own.
    const onInterrupt = () => {
      child.kill("SIGKILL");
      Deno.exit(130);
    };
    Deno.addSignalListener("SIGINT", onInterrupt);
    const tail = new OutputTail();
    const reading = Promise.all([readLines(child.stdout, tail), readLines(child.stderr, tail)]);
    const crawler = sampleProcess(child.pid);
    const siteProcess = sampleProcess(options.site.pid, { intervalMs: 1000 });
    let end: CrawlEnd | undefined;
    let exitCode = -1;
    let peakFrontierBytes = 0;
    try {
      const exited = child.status.then((status) => {
        exitCode = status.code;
        end ??= status.code === 0 ? "finished" : "exited";
      });
      let lastCount = -1;
      let movedAt = performance.now();
      let printedAt = performance.now();
      // Bounded by the timeout: one turn a second.
      while (end === undefined) {
        await Promise.race([exited, delay(1000)]);
        if (end !== undefined) break;
        const now = performance.now();
        const { pageRequests } = await options.site.count();
        peakFrontierBytes = Math.max(peakFrontierBytes, await frontierSize());
        if (pageRequests !== lastCount) {
          lastCount = pageRequests;
          movedAt = now;
        }
        if (options.print && now - printedAt >= progressMs) {
          printedAt = now;
          const p = crawler.peaks;
          options.print(
            `  ${options.label}: ${
              ((now - started) / 1000).toFixed(0)
            } s, ${pageRequests} pages, ` +
              `${p.fds} fds (max ${p.maxFds}), RSS ${(p.rssBytes / 2 ** 20).toFixed(0)} MiB`,
          );
        }
        if (now - movedAt >= stallMs) end = "stalled";
        else if (now - started >= timeoutMs) end = "timed out";
      }
      if (end === "stalled" || end === "timed out") await stop(child);
      await exited;
    } finally {
      Deno.removeSignalListener("SIGINT", onInterrupt);
      try {
        child.kill("SIGKILL"); // only if something above threw with the crawler still running
      } catch {
        // it had exited, as it should have
      }
      await child.status;
      await reading;
    }
    const wallSeconds = (performance.now() - started) / 1000;
    const peaks = crawler.stop();
    const sitePeaks = siteProcess.stop();
    const site = await options.site.summary(options.delayMs);
    const crawlSeconds = site.firstMs !== null && site.lastMs !== null
      ? Math.max((site.lastMs - site.firstMs) / 1000, 0.001)
      : 0;
    const frontierBytes = await frontierSize();
    const endNote = {
      finished: "finished by itself",
      exited: `exited by itself with code ${exitCode}`,
      stalled: `STALLED: no new page for ${stallMs / 1000} s; stopped (exit code ${exitCode})`,
      "timed out": `TIMED OUT after ${timeoutMs / 1000} s; stopped (exit code ${exitCode})`,
    }[end ?? "exited"];
    return {
      end: end ?? "exited",
      endNote,
      exitCode,
      wallSeconds,
      crawlSeconds,
      pagesPerSecond: crawlSeconds > 0 ? site.pageRequests / crawlSeconds : 0,
      site,
      maxFds: peaks.maxFds,
      siteMaxFds: sitePeaks.maxFds,
      peakRssBytes: peaks.peakRssBytes,
      frontierBytes,
      peakFrontierBytes: Math.max(peakFrontierBytes, frontierBytes),
      frontierUrls: frontierUrls(tail),
      summary: tail.summary,
      lastProgress: tail.lastProgress,
      lastLines: tail.lines,
      logCounts: tail.counts(),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
