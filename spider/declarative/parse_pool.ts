/**
 * @module
 * Parse workers for declarative rules: a small pool of Web Workers that run rules off the main
 * thread with a time limit. Synchronous JavaScript cannot be interrupted on its own thread, so a
 * rule that runs too long on a page (catastrophic backtracking, a gigantic page) is stopped by
 * terminating its worker; the page counts as failed, a fresh worker takes the next job, and the
 * crawl goes on. The workers also parse in parallel with the fetching on the main thread.
 */
import type { Logger } from "../../log/logger.ts";
import type { ParseContext } from "../parse_context.ts";
import type { ParseResult, Rule } from "../rule_set.ts";
import type { TaskRun } from "../task_run.ts";
import { DeclarativeRule, type ParseJob, toParseResult } from "./declarative_rule.ts";
import type { PageOutput } from "./rule_program.ts";

/** Options for {@linkcode ParsePool}. */
export interface ParsePoolOptions {
  /**
   * Parse workers, started on first use. 0 parses on the main thread, without a time limit.
   * Default: `navigator.hardwareConcurrency`, at most 4.
   */
  workers?: number;
  /** Longest a rule may parse one page, ms, unless its rule set sets `parseTimeoutMs`. Default 10000. */
  timeoutMs?: number;
  /** Told when workers cannot start and parsing falls back to the main thread. */
  logger?: Logger;
  /** The worker module. Default: `_parse_worker.ts` beside this file (tests pass a broken one). */
  workerUrl?: string | URL;
}

/** The part of the engine's `TaskRun` the pool uses. */
export type ParseRun = Pick<TaskRun, "task" | "done" | "signal">;

/** Options for {@linkcode ParsePool.parse}. */
export interface ParseOptions {
  /**
   * The task run the page was fetched for. Links the run would drop anyway are then dropped in
   * the worker, before they cost the main thread anything: all of them on a page at `maxDepth`,
   * and (without `reload`) links the worker already sent for the run. Its `signal` is the
   * default `signal`.
   */
  run?: ParseRun;
  /** Aborting it rejects the parse with the signal's reason. */
  signal?: AbortSignal;
}

/** Options for {@linkcode ParsePool.run}. */
export interface ParseRunOptions {
  /** Default: the pool's `timeoutMs`. */
  timeoutMs?: number;
  /** Aborting it rejects the run with the signal's reason (a started worker finishes or times out). */
  signal?: AbortSignal;
}

/** A rule that ran past its time limit on a page and was stopped. */
export class ParseTimeoutError extends Error {
  /** The rule, the page and the limit it ran past. */
  readonly job: { rule: string; url: string; timeoutMs: number };

  constructor(job: { rule: string; url: string; timeoutMs: number }) {
    super(`rule "${job.rule}" ran longer than ${job.timeoutMs} ms on ${job.url}; stopped`);
    this.name = "ParseTimeoutError";
    this.job = job;
  }
}

/** Consecutive workers that fail to start before the pool gives up and parses on the main thread. */
const MAX_START_FAILURES = 3;

/**
 * Jobs sent ahead to a worker. A worker given one job at a time idles from its answer until the
 * main thread, busy with fetches, gets round to sending the next: on the bench that left the
 * worker and the main thread each idle half the time.
 */
const PIPELINE_DEPTH = 4;

interface Pending {
  id: number;
  job: ParseJob;
  timeoutMs: number;
  /** Runs the job on the main thread when workers cannot start. */
  inline?: () => PageOutput;
  resolve: (output: PageOutput) => void;
  reject: (error: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
  settled: boolean;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  /** Jobs sent, in order; the worker runs the first and answers in this order. */
  sent: Pending[];
  /** The first job's time limit. */
  timer?: ReturnType<typeof setTimeout>;
}

/**
 * Runs declarative rules in workers with a per-page time limit. Other rules (functions, which
 * cannot be sent to a worker) run on the main thread as before.
 *
 * A job's time starts when the worker reaches it (when the answer to the job before it
 * arrives), so jobs waiting behind a slow one are not blamed for it; when a worker is stopped,
 * the jobs it had not reached go to another.
 *
 * @example
 * ```ts
 * const parsers = new ParsePool({ timeoutMs: 5000 });
 * const crawler = new Crawler({ ...deps, parseRule: (rule, ctx, run) => parsers.parse(rule, ctx, { run }) });
 * // …
 * await crawler.close();
 * parsers.close();
 * ```
 */
export class ParsePool {
  readonly #size: number;
  readonly #timeoutMs: number;
  readonly #logger: Logger | undefined;
  readonly #workerUrl: string | URL;
  readonly #slots = new Set<Slot>();
  #queue: Pending[] = [];
  #nextId = 0;
  readonly #runIds = new WeakMap<ParseRun, number>();
  #nextRunId = 0;
  #startFailures = 0;
  #inline = false;
  #closed = false;

  constructor(options: ParsePoolOptions = {}) {
    this.#size = options.workers ?? Math.min(4, Math.max(1, navigator.hardwareConcurrency || 1));
    if (!Number.isInteger(this.#size) || this.#size < 0) {
      throw new RangeError("workers must be a non-negative integer");
    }
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#logger = options.logger;
    this.#workerUrl = options.workerUrl ?? new URL("./_parse_worker.ts", import.meta.url);
    this.#inline = this.#size === 0;
  }

  /** Workers running now (started lazily, replaced when one is stopped). */
  get workers(): number {
    return this.#slots.size;
  }

  /**
   * Parses `ctx`'s page with `rule`: a declarative rule in a worker, with its time limit
   * (rejecting with {@linkcode ParseTimeoutError}); any other rule on this thread.
   */
  async parse(rule: Rule, ctx: ParseContext, options: ParseOptions = {}): Promise<ParseResult> {
    if (!(rule instanceof DeclarativeRule) || this.#inline) return await rule.parse(ctx);
    const { run } = options;
    const job = rule.job(ctx);
    if (run) {
      const { maxDepth, reload } = run.task.options;
      if (ctx.req.depth + 1 > maxDepth) job.followLinks = false;
      else if (!reload) job.dedupeRun = this.#runId(run);
    }
    const output = await this.#submit(job, {
      timeoutMs: rule.timeoutMs ?? this.#timeoutMs,
      signal: options.signal ?? run?.signal,
      inline: () => rule.program.run(ctx),
    });
    return toParseResult(ctx, output, rule.program.itemKey);
  }

  /** Runs one job in a worker. Rejects with {@linkcode ParseTimeoutError} past the time limit. */
  run(job: ParseJob, options: ParseRunOptions = {}): Promise<PageOutput> {
    return this.#submit(job, {
      timeoutMs: options.timeoutMs ?? this.#timeoutMs,
      signal: options.signal,
    });
  }

  /** Terminates the workers; jobs not finished reject. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const error = new Error("parse pool closed");
    for (const slot of this.#slots) {
      clearTimeout(slot.timer);
      slot.worker.terminate();
      for (const pending of slot.sent) this.#settle(pending, error);
    }
    this.#slots.clear();
    for (const pending of this.#queue.splice(0)) this.#settle(pending, error);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** The id workers know `run` by; when the run ends, they are told to forget it. */
  #runId(run: ParseRun): number {
    let id = this.#runIds.get(run);
    if (id === undefined) {
      const runId = id = this.#nextRunId++;
      this.#runIds.set(run, runId);
      // `done` never rejects: it resolves with the state the run ended in.
      run.done.then(() => {
        if (this.#closed) return;
        for (const slot of this.#slots) slot.worker.postMessage({ forget: runId });
      });
    }
    return id;
  }

  #submit(
    job: ParseJob,
    options: { timeoutMs: number; signal?: AbortSignal; inline?: () => PageOutput },
  ): Promise<PageOutput> {
    const { timeoutMs, signal, inline } = options;
    if (this.#closed) return Promise.reject(new Error("parse pool closed"));
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const pending: Pending = {
        id: this.#nextId++,
        job,
        timeoutMs,
        inline,
        resolve,
        reject,
        signal,
        settled: false,
      };
      if (signal) {
        pending.onAbort = () => {
          const queued = this.#queue.indexOf(pending);
          if (queued >= 0) this.#queue.splice(queued, 1);
          // A job already sent runs on to its end or its time limit; nobody waits for it.
          this.#settle(pending, signal.reason);
        };
        signal.addEventListener("abort", pending.onAbort, { once: true });
      }
      this.#queue.push(pending);
      this.#dispatch();
    });
  }

  #dispatch(): void {
    if (this.#inline) return this.#drainInline();
    let starting = 0;
    while (this.#queue.length > 0) {
      // The ready worker with the fewest jobs, if one has room.
      let best: Slot | undefined;
      starting = 0;
      for (const slot of this.#slots) {
        if (!slot.ready) starting++;
        else if (!best || slot.sent.length < best.sent.length) best = slot;
      }
      // An idle worker to start beats a queue behind a busy one.
      const spawn = this.#slots.size < this.#size && (!best || best.sent.length > 0) &&
        starting < this.#queue.length;
      if (spawn) this.#spawn();
      if (!best || best.sent.length >= PIPELINE_DEPTH || (spawn && best.sent.length > 0)) return;
      this.#send(best, this.#queue.shift()!);
    }
  }

  #spawn(): void {
    const worker = new Worker(this.#workerUrl, { type: "module" });
    const slot: Slot = { worker, ready: false, sent: [] };
    worker.onmessage = (event) => this.#onMessage(slot, event.data);
    worker.onerror = (event) => {
      // Handled here: left alone, an error in a worker would be rethrown in this thread.
      event.preventDefault();
      this.#onWorkerError(slot, event.message);
    };
    this.#slots.add(slot);
  }

  #send(slot: Slot, pending: Pending): void {
    slot.sent.push(pending);
    if (slot.sent.length === 1) this.#startClock(slot);
    // Bytes are copied, not transferred: a job may be sent again if its worker is replaced.
    slot.worker.postMessage({ id: pending.id, ...pending.job });
  }

  /** Starts the time limit of the job the worker is on now. */
  #startClock(slot: Slot): void {
    clearTimeout(slot.timer);
    const current = slot.sent[0];
    slot.timer = current && setTimeout(() => this.#onTimeout(slot), current.timeoutMs);
  }

  #onMessage(
    slot: Slot,
    data: { ready?: boolean; started?: boolean; id?: number; output?: PageOutput; error?: string },
  ): void {
    if (data.ready) {
      this.#startFailures = 0;
      slot.ready = true;
    } else if (data.started) {
      // The worker loaded what the job needed (linkedom) before starting it.
      if (slot.sent[0]?.id === data.id) this.#startClock(slot);
      return;
    } else if (slot.sent.length > 0 && data.id === slot.sent[0].id) {
      const pending = slot.sent.shift()!;
      this.#startClock(slot);
      if (data.error !== undefined) this.#settle(pending, new Error(data.error));
      else this.#settle(pending, undefined, data.output!);
    }
    this.#dispatch();
  }

  #onTimeout(slot: Slot): void {
    const [current, ...waiting] = slot.sent;
    this.#retire(slot, waiting);
    const { rule, url } = current.job;
    this.#settle(current, new ParseTimeoutError({ rule, url, timeoutMs: current.timeoutMs }));
    this.#dispatch();
  }

  #onWorkerError(slot: Slot, message: string): void {
    const [current, ...waiting] = slot.sent;
    this.#retire(slot, waiting);
    if (current) this.#settle(current, new Error(`parse worker failed: ${message}`));
    if (!slot.ready && ++this.#startFailures >= MAX_START_FAILURES && !this.#inline) {
      this.#inline = true;
      this.#logger?.error("parse workers cannot start; parsing on the main thread, no time limit", {
        error: message,
      });
    }
    this.#dispatch();
  }

  /** Stops a worker; the jobs it had not reached go back to the front of the queue. */
  #retire(slot: Slot, unreached: Pending[]): void {
    clearTimeout(slot.timer);
    slot.worker.terminate();
    this.#slots.delete(slot);
    this.#queue.unshift(...unreached.filter((p) => !p.settled));
  }

  /** Without workers: runs what can run here, fails what cannot. */
  #drainInline(): void {
    for (const pending of this.#queue.splice(0)) {
      if (!pending.inline) {
        this.#settle(pending, new Error("parse workers cannot start"));
        continue;
      }
      try {
        this.#settle(pending, undefined, pending.inline());
      } catch (error) {
        this.#settle(pending, error);
      }
    }
  }

  #settle(pending: Pending, error: unknown, output?: PageOutput): void {
    if (pending.settled) return;
    pending.settled = true;
    if (pending.onAbort) pending.signal!.removeEventListener("abort", pending.onAbort);
    if (output !== undefined) pending.resolve(output);
    else pending.reject(error);
  }
}
