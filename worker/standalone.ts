/**
 * @module
 * Standalone mode (`crawler worker --cluster=false`): crawl the config's `Tasks` as seeds,
 * print progress while it runs (a line redrawn in place on a terminal, plain lines otherwise)
 * and a summary at the end with the failures by reason, and return when every seed task
 * has finished (frontier empty, nothing in flight, results flushed) or `signal` aborts. A task
 * with `Recrawl` never finishes on its own (its pages are due again) unless run with `once`.
 */
import type { Config } from "../config/config_schema.ts";
import { ConfigError } from "../errors/mod.ts";
import { taskDefinitionFromConfig } from "../config/task_config.ts";
import type { Logger } from "../log/logger.ts";
import type { RuleSet } from "../spider/rule_set.ts";
import type { Task } from "../spider/task.ts";
import { buildTask } from "../spider/task_definition.ts";
import { chromiumPath, requireBrowserFor } from "../spider/browser/chromium_binary.ts";
import type { TaskRun } from "../spider/task_run.ts";
import type { FrontierCounts, Opening } from "../frontier/frontier.ts";
import { createEngine } from "./engine_deps.ts";
import { failureSummaryLine, FailureTally } from "./failure_tally.ts";
import { ProgressMeter, recrawlProgress, recrawlText, TerminalLine } from "./progress_line.ts";
import { runOutcome } from "./run_outcome.ts";

export interface StandaloneOptions {
  config: Config;
  ruleSets: ReadonlyMap<string, RuleSet>;
  logger: Logger;
  /** Ends the crawl early (SIGINT): in-flight fetches are aborted, results flushed. */
  signal?: AbortSignal;
  /** Where progress and summary lines go. Default: stdout. */
  print?: (line: string) => void;
  /** Progress period, ms. Default 3000 for plain lines, 500 for the redrawn line. */
  progressIntervalMs?: number;
  /**
   * `"line"`: one progress line redrawn in place (a terminal); `"plain"`: a line printed every
   * `progressIntervalMs`. Default: `"line"` when stdout is a terminal.
   */
  progress?: "line" | "plain";
  /** Where the redrawn line is written, raw. Default: stdout. */
  write?: (text: string) => void;
  /** This worker's id, holder of its frontier leases. Default "crawler.worker-1". */
  workerId?: string;
  /** Start every task's crawl afresh, dropping an unfinished one (`--fresh`). Default false. */
  fresh?: boolean;
  /**
   * Fetch each page of a recrawl task once and return, instead of revisiting pages until
   * `signal` aborts (`--once`). Default false.
   */
  once?: boolean;
}

export interface StandaloneSummary {
  /** Each task's outcome: `finished`, `failed` (with `error`), or `stopped` when interrupted. */
  tasks: Array<{
    name: string;
    state: string;
    error?: string;
    fetched: number;
    failed: number;
    items: number;
    /** Not fetched: robots.txt disallows them. */
    disallowed: number;
    /** 429/503 answers, retried after the host's block. */
    throttled: number;
    /** Sitemap files read, and the page URLs they listed that passed the task's filters. */
    sitemaps: number;
    sitemapUrls: number;
    /** The task's frontier at the end (every run of its crawl, this one and earlier ones). */
    frontier: FrontierCounts;
  }>;
  fetched: number;
  failed: number;
  items: number;
  stored: number;
  seconds: number;
  interrupted: boolean;
  /** Final failures by reason (`HTTP 404`, `timeout`...), most frequent first. */
  failures: Array<[reason: string, count: number]>;
}

/**
 * Resolves every config task to a runnable task; a bad one is a `ConfigError` naming it, as is
 * one that renders pages without Chromium (naming `browser.executablePath`).
 */
export function seedTasks(config: Config, ruleSets: ReadonlyMap<string, RuleSet>): Task[] {
  const seen = new Set<string>();
  const tasks = config.Tasks.map((entry, i) => {
    if (seen.has(entry.Name)) {
      throw new ConfigError(`Tasks[${i}].Name`, `duplicate task name "${entry.Name}"`);
    }
    seen.add(entry.Name);
    try {
      return buildTask(taskDefinitionFromConfig(entry), ruleSets);
    } catch (error) {
      throw new ConfigError(
        `Tasks[${i}].${entry.Rule ? "Rule" : "Name"}`,
        (error as Error).message,
        {
          cause: error,
        },
      );
    }
  });
  const executablePath = chromiumPath(config.browser.executablePath);
  for (const task of tasks) {
    try {
      requireBrowserFor(task, executablePath);
    } catch (error) {
      throw new ConfigError("browser.executablePath", (error as Error).message, { cause: error });
    }
  }
  return tasks;
}

export async function runStandalone(options: StandaloneOptions): Promise<StandaloneSummary> {
  const { config } = options;
  const tasks = seedTasks(config, options.ruleSets);
  if (tasks.length === 0) {
    throw new ConfigError("Tasks", "standalone mode needs at least one task to crawl");
  }
  const onTerminal = (options.progress ?? (Deno.stdout.isTerminal() ? "line" : "plain")) === "line";
  const terminal = onTerminal ? new TerminalLine(options.write ?? writeStdout, columns) : undefined;
  const basePrint = options.print ?? ((line: string) => console.log(line));
  // Anything printed or logged first takes the progress line away; the next tick redraws it.
  const print = (line: string) => {
    terminal?.clear();
    basePrint(line);
  };
  const failures = new FailureTally();
  const logger = failures.tap(options.logger, () => terminal?.clear());
  const meter = new ProgressMeter();
  const started = performance.now();
  const engine = await createEngine(config, logger, {
    owner: options.workerId ?? "crawler.worker-1",
  });
  const runs: TaskRun[] = [];
  let interrupted = false;
  const onAbort = () => {
    interrupted = true;
    print("interrupted: stopping tasks and flushing results");
    for (const run of runs) run.stop();
  };
  const tick = () =>
    terminal
      ? terminal.draw(meter.line(progressSample(runs, started)))
      : print(progressLine(runs, engine.sink.stored, started));
  const progress = setInterval(tick, options.progressIntervalMs ?? (terminal ? 500 : 3000));
  try {
    for (const task of tasks) {
      const run = engine.crawler.start(task, { fresh: options.fresh, once: options.once });
      runs.push(run);
      run.opened.then((opening) => print(openingLine(run.name, opening)), () => {});
    }
    terminal?.draw(meter.line(progressSample(runs, started))); // at once, not after a tick
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    await Promise.all(runs.map((run) => run.done));
  } finally {
    clearInterval(progress);
    terminal?.clear();
    options.signal?.removeEventListener("abort", onAbort);
    await engine.close();
  }
  const summary: StandaloneSummary = {
    tasks: runs.map((run) => ({
      name: run.name,
      ...runOutcome(run),
      fetched: run.stats.fetched,
      failed: run.stats.failed,
      items: run.stats.items,
      disallowed: run.stats.disallowed,
      throttled: run.stats.throttled,
      sitemaps: run.stats.sitemaps,
      sitemapUrls: run.stats.sitemapUrls,
      frontier: run.stats.frontier,
    })),
    fetched: sum(runs, "fetched"),
    failed: sum(runs, "failed"),
    items: sum(runs, "items"),
    stored: engine.sink.stored,
    seconds: (performance.now() - started) / 1000,
    interrupted,
    failures: failures.entries(),
  };
  for (const line of summaryLines(summary)) print(line);
  const failureLine = failureSummaryLine(failures);
  if (failureLine) print(failureLine);
  return summary;
}

function writeStdout(text: string): void {
  Deno.stdout.writeSync(new TextEncoder().encode(text));
}

function columns(): number {
  try {
    return Deno.consoleSize().columns || 120; // 0 when the terminal does not say
  } catch {
    return 120; // not a console after all
  }
}

function progressSample(runs: TaskRun[], started: number) {
  return {
    seconds: (performance.now() - started) / 1000,
    fetched: sum(runs, "fetched"),
    queued: sum(runs, "queued"),
    inFlight: sum(runs, "inFlight"),
    failed: sum(runs, "failed"),
    items: sum(runs, "items"),
    stalled: runs.map((run) => run.stats.stalled).find((reason) => reason !== undefined),
    recrawl: recrawlProgress(runs.map((run) => run.stats), Date.now()),
  };
}

function sum(runs: TaskRun[], key: "fetched" | "failed" | "items" | "queued" | "inFlight"): number {
  return runs.reduce((total, run) => total + run.stats[key], 0);
}

function frontierSum(
  runs: TaskRun[],
  key: Exclude<keyof FrontierCounts, "nextRevisitMs">,
): number {
  return runs.reduce((total, run) => total + run.stats.frontier[key], 0);
}

function progressLine(runs: TaskRun[], stored: number, started: number): string {
  const seconds = (performance.now() - started) / 1000;
  const fetched = sum(runs, "fetched");
  return `progress: ${seconds.toFixed(0)}s fetched=${fetched} queued=${
    frontierSum(runs, "queued")
  } leased=${frontierSum(runs, "leased")} done=${frontierSum(runs, "done")} in_flight=${
    sum(runs, "inFlight")
  } failed=${sum(runs, "failed")} items=${sum(runs, "items")} stored=${stored} (${
    (fetched / Math.max(seconds, 0.001)).toFixed(1)
  } pages/s)${recrawlSuffix(runs)}`;
}

/** The schedule and revisits of recrawl tasks, for the plain progress line; "" without any. */
function recrawlSuffix(runs: TaskRun[]): string {
  const recrawl = recrawlProgress(runs.map((run) => run.stats), Date.now());
  if (!recrawl) return "";
  const next = recrawl.nextDueSeconds === undefined
    ? ""
    : ` next_due_in=${recrawl.nextDueSeconds.toFixed(0)}s`;
  return `${recrawl.waiting ? " waiting" : ""}${next} ${recrawlText(recrawl)}`;
}

/** What the frontier held for a task when its run began: a resumed crawl or a new one. */
export function openingLine(task: string, opening: Opening): string {
  const { done, queued, leased, failed } = opening.counts;
  if (opening.mode === "resumed") {
    return `task ${task}: resuming the crawl started ${
      new Date(opening.startedAt).toISOString()
    }: done=${done} queued=${queued + leased} failed=${failed}`;
  }
  const why = {
    first: "starting a new crawl",
    fresh: "--fresh: starting a new crawl",
    finished: "the last crawl had finished; starting a new crawl",
    replaced: "starting a new crawl",
    changed: `the task changed${
      opening.changed?.length ? ` (${opening.changed.join(", ")})` : ""
    }: starting a new crawl`,
  }[opening.reason];
  return `task ${task}: ${why}`;
}

function summaryLines(s: StandaloneSummary): string[] {
  const lines = s.tasks.map((t) =>
    `task ${t.name}: ${t.state}, fetched=${t.fetched} failed=${t.failed} items=${t.items}` +
    (t.disallowed ? ` disallowed=${t.disallowed}` : "") +
    (t.throttled ? ` throttled=${t.throttled}` : "") +
    (t.sitemaps ? ` sitemaps=${t.sitemaps} sitemap_urls=${t.sitemapUrls}` : "") +
    ` (frontier: done=${t.frontier.done} failed=${t.frontier.failed} queued=${
      t.frontier.queued + t.frontier.leased
    })` + (t.error ? ` (${t.error})` : "")
  );
  lines.push(
    `summary: ${s.interrupted ? "interrupted" : "done"} in ${s.seconds.toFixed(1)}s, ` +
      `fetched=${s.fetched} failed=${s.failed} items=${s.items} stored=${s.stored} ` +
      `(${(s.fetched / Math.max(s.seconds, 0.001)).toFixed(1)} pages/s)`,
  );
  return lines;
}
