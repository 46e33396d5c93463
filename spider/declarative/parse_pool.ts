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
   * Workers beyond the first start only when the running ones fall behind.
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
export type ParseRun = Pick<TaskRun, "task" | "done" | "signal" | "retry">;

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

/**
 * How long jobs wait, every running worker's pipeline full, before another worker starts. Fast
 * rules (regular expressions, the anchor scan) never wait that long, so their crawl runs on one
 * worker; slower ones (streaming selectors, a DOM) get as many as `workers` allows.
 */
const SPAWN_AFTER_MS = 100;

interface Pending {
  id: number;
  job: ParseJob;
  timeoutMs: number;
  /** Runs the job on the main thread when workers cannot start. */
  inline?: () => PageOutput;
  /** Its page's bytes were moved to a worker: it cannot be sent again. */
  moved?: boolean;
  /**
   * What to do when its worker is stopped before reaching it and its bytes went with it: fetch
   * the page again (its parse then resolves with nothing). Without it, the parse rejects.
   */
  refetch?: () => void;
  resolve: (output: PageOutput) => void;
  reject: (error: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
  settled: boolean;
  /** `performance.now()` when it was submitted. */
  queuedAt: number;
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
  #spawnTimer: ReturnType<typeof setTimeout> | undefined;
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
      refetch: run && (() => run.retry(ctx.req)),
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
    clearTimeout(this.#spawnTimer);
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
    options: {
      timeoutMs: number;
      signal?: AbortSignal;
      inline?: () => PageOutput;
      refetch?: () => void;
    },
  ): Promise<PageOutput> {
    const { timeoutMs, signal, inline, refetch } = options;
    if (this.#closed) return Promise.reject(new Error("parse pool closed"));
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const pending: Pending = {
        id: this.#nextId++,
        job,
        timeoutMs,
        inline,
        refetch,
        resolve,
        reject,
        signal,
        settled: false,
        queuedAt: performance.now(),
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
    while (this.#queue.length > 0) {
      // The ready worker with the fewest jobs, if one has room.
      let best: Slot | undefined;
      let starting = 0;
      for (const slot of this.#slots) {
        if (!slot.ready) starting++;
        else if (!best || slot.sent.length < best.sent.length) best = slot;
      }
      const full = !best || best.sent.length >= PIPELINE_DEPTH;
      if (full) {
        // Another worker only when none is starting and the ones running fall behind: a crawl
        // whose rules parse fast never pays for workers it does not need (~20 MB each).
        if (this.#slots.size < this.#size && starting === 0 && (!best || this.#backlogged())) {
          this.#spawn();
        }
        return;
      }
      this.#send(best!, this.#queue.shift()!);
    }
  }

  /**
   * True once the oldest waiting job has waited `SPAWN_AFTER_MS`; until then, a timer calls
   * `#dispatch` again at that moment.
   */
  #backlogged(): boolean {
    const waited = performance.now() - this.#queue[0].queuedAt;
    if (waited >= SPAWN_AFTER_MS) return true;
    this.#spawnTimer ??= setTimeout(() => {
      this.#spawnTimer = undefined;
      this.#dispatch();
    }, SPAWN_AFTER_MS - waited);
    return false;
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
    // The page's bytes are moved to the worker, not copied: this thread then holds no copy
    // waiting for the garbage collector (on 100 KB pages at 16 fetches, that was 60 MB of
    // resident memory and a copy per page). The price: a job the worker had not reached when
    // it is stopped cannot be sent again; its page is fetched again instead (see #retire).
    const raw = pending.job.raw;
    const move = raw !== undefined && raw.buffer instanceof ArrayBuffer &&
      raw.byteLength === raw.buffer.byteLength;
    pending.moved = move;
    slot.worker.postMessage({ id: pending.id, ...pending.job }, move ? [raw.buffer] : []);
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

  /**
   * Stops a worker; the jobs it had not reached go back to the front of the queue, or, when
   * their bytes went with it, their pages are fetched again.
   */
  #retire(slot: Slot, unreached: Pending[]): void {
    clearTimeout(slot.timer);
    slot.worker.terminate();
    this.#slots.delete(slot);
    const again: Pending[] = [];
    for (const pending of unreached) {
      if (pending.settled) continue;
      if (!pending.moved) again.push(pending);
      else if (pending.refetch) {
        pending.refetch();
        this.#settle(pending, undefined, { links: [], items: [] });
      } else {
        this.#settle(
          pending,
          new Error(`parse worker stopped before it reached ${pending.job.url}; page not parsed`),
        );
      }
    }
    this.#queue.unshift(...again);
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
