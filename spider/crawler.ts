/**
 * @module
 * The engine: runs tasks concurrently over a shared pool of fetch slots. Each task run has
 * its own queue, visited set and limiter, so a rate-limited task waits on its own limiter
 * without holding a slot another task could use.
 */
import type { Logger } from "../log/logger.ts";
import { type Fetcher, FetchError } from "./fetcher.ts";
import { ParseContext } from "./parse_context.ts";
import type { ParseResult, Rule } from "./rule_set.ts";
import { toRequest } from "./request.ts";
import type { CrawlRequest } from "./request.ts";
import type { Item } from "./item.ts";
import { Semaphore } from "./semaphore.ts";
import type { Task } from "./task.ts";
import { type Limiter, type RunState, TaskRun } from "./task_run.ts";
import type { LimitOptions } from "./task_options.ts";

/** Where items go. `save` buffers; the sink flushes on its own schedule and at `flush()`. */
export interface ItemSink {
  save(item: Item, fields: readonly string[]): void;
  flush(): Promise<void>;
}

export interface CrawlerOptions {
  fetcher: Fetcher;
  sink: ItemSink;
  logger: Logger;
  /** Builds a task's limiter from its `Limits`. */
  createLimiter: (limits: LimitOptions[]) => Limiter;
  /** Waits the task's random delay before a fetch (the Go project's WaitTime). */
  randomWait: (waitTimeSeconds: number, signal: AbortSignal) => Promise<void>;
  /** Concurrent fetches across all tasks. Default 8. */
  concurrency?: number;
  /** Extra attempts for a fetch that failed with a retriable error. Default 1. */
  retries?: number;
  /**
   * Runs a rule on a page fetched for `run`. Default: `rule.parse(ctx)` on this thread. The
   * worker wiring passes a `ParsePool` here, so declarative rules parse in workers and are
   * stopped when they run too long; a rejection counts the page as failed and the crawl goes on.
   */
  parseRule?: (rule: Rule, ctx: ParseContext, run: TaskRun) => Promise<ParseResult>;
}

/** The error a task start gets when a run of that name is still going. */
export class TaskRunningError extends Error {
  constructor(name: string) {
    super(`task "${name}" is already running`);
    this.name = "TaskRunningError";
  }
}

export class Crawler {
  readonly #options: Required<CrawlerOptions>;
  readonly #slots: Semaphore;
  readonly #runs = new Map<string, TaskRun>();
  readonly #loops = new Set<Promise<void>>();

  constructor(options: CrawlerOptions) {
    this.#options = {
      concurrency: 8,
      retries: 1,
      ...options,
      parseRule: options.parseRule ?? (async (rule, ctx) => await rule.parse(ctx)),
    };
    this.#slots = new Semaphore(this.#options.concurrency);
  }

  /** The live run of a task, if any. */
  run(name: string): TaskRun | undefined {
    return this.#runs.get(name);
  }

  /** Every live run. */
  runs(): TaskRun[] {
    return [...this.#runs.values()];
  }

  /** Starts a task afresh: new queue, new visited set. Throws `TaskRunningError` if it runs. */
  start(task: Task): TaskRun {
    const name = task.options.name;
    if (this.#runs.has(name)) throw new TaskRunningError(name);
    const run = new TaskRun(task, this.#options.createLimiter(task.options.limits));
    this.#runs.set(name, run);
    run.done.then((state) => this.#onDone(run, state));
    const log = this.#options.logger;
    let roots: CrawlRequest[] = [];
    try {
      roots = task.ruleSet.root({ url: task.options.url }).map(toRequest);
    } catch (error) {
      log.error("task root failed", { task: name, error });
    }
    for (const req of roots) run.enqueue(req);
    log.info("task started", { task: name, roots: roots.length, url: task.options.url });
    run.finishIfIdle();
    const loops = Math.min(this.#options.concurrency, 64);
    for (let i = 0; i < loops; i++) this.#track(this.#loop(run));
    return run;
  }

  /** Stops a task's run: nothing more is fetched and in-flight fetches are aborted. */
  stop(name: string): boolean {
    const run = this.#runs.get(name);
    if (!run) return false;
    // Forget it now, not when `done` settles, so the task can be started again at once.
    this.#runs.delete(name);
    run.stop();
    return true;
  }

  /** Resolves when every run now live has ended. */
  async idle(): Promise<void> {
    await Promise.all(this.runs().map((run) => run.done));
  }

  /** Stops every run and waits for the fetch loops to wind down. */
  async close(): Promise<void> {
    for (const run of this.runs()) run.stop();
    await Promise.all(this.#loops);
  }

  #track(loop: Promise<void>): void {
    this.#loops.add(loop);
    loop.finally(() => this.#loops.delete(loop));
  }

  #onDone(run: TaskRun, state: RunState): void {
    if (this.#runs.get(run.name) === run) this.#runs.delete(run.name);
    const { fetched, failed, items, retried } = run.stats;
    this.#options.logger.info(`task ${state}`, { task: run.name, fetched, failed, items, retried });
  }

  async #loop(run: TaskRun): Promise<void> {
    const signal = run.signal;
    for (;;) {
      const req = await run.queue.pull(signal);
      if (!req) return;
      run.begin();
      try {
        await this.#process(run, req);
      } catch (error) {
        if (!signal.aborted) {
          run.stats.failed++;
          run.activity.failed(req.url, error);
          this.#options.logger.error("request failed", { task: run.name, url: req.url, error });
        }
      } finally {
        run.settle();
      }
    }
  }

  async #process(run: TaskRun, req: CrawlRequest): Promise<void> {
    const { options } = run.task;
    const signal = run.signal;
    const log = this.#options.logger;
    await run.limiter.wait(signal);
    if (options.waitTime > 0) await this.#options.randomWait(options.waitTime, signal);
    const release = await this.#slots.acquire(signal);
    let response;
    try {
      response = await this.#options.fetcher.fetch({
        url: req.url,
        method: req.method,
        cookie: options.cookie,
        signal,
      });
    } catch (error) {
      if (signal.aborted) return;
      const retriable = error instanceof FetchError ? error.retriable : true;
      if (retriable && req.attempt < this.#options.retries) {
        // Most retries succeed: a person reading the log cares about the final outcome.
        log.debug("fetch failed, retrying", { task: run.name, url: req.url, error });
        run.retry(req);
        return;
      }
      run.stats.failed++;
      run.activity.failed(req.url, error);
      log.warn("fetch failed", { task: run.name, url: req.url, attempt: req.attempt, error });
      return;
    } finally {
      release();
    }
    run.stats.fetched++;
    run.activity.fetched(req.url);
    const rule = run.task.ruleSet.rules[req.ruleName];
    if (!rule) {
      run.stats.failed++;
      run.activity.failed(req.url, new Error(`no rule "${req.ruleName}"`));
      log.error("no such rule", { task: run.name, rule: req.ruleName, url: req.url });
      return;
    }
    const ctx = new ParseContext(run.name, req, response, response.url);
    const result = await this.#options.parseRule(rule, ctx, run);
    if (signal.aborted) return;
    for (const child of result.requests ?? []) run.enqueue(child);
    const fields = rule.itemFields;
    for (const item of result.items ?? []) {
      this.#options.sink.save(item, fields ?? Object.keys(item.data));
      run.stats.items++;
    }
  }
}
