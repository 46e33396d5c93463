/**
 * @module
 * One run of a task on the engine: its queue, visited set, limiter, counters, and the
 * bookkeeping that tells when it has finished (nothing queued, nothing in flight).
 */
import { RequestQueue } from "./request_queue.ts";
import { type CrawlRequest, requestKey } from "./request.ts";
import { VisitedSet } from "./visited_set.ts";
import type { Task } from "./task.ts";
import { TaskActivity } from "./task_activity.ts";

/** Counters of a run, as shown by progress lines, the status API and metrics. */
export interface TaskStats {
  fetched: number;
  failed: number;
  retried: number;
  items: number;
  /** Requests dropped because they were deeper than `maxDepth`. */
  tooDeep: number;
  /** Requests dropped because their URL was already visited. */
  duplicates: number;
  queued: number;
  inFlight: number;
  startedAt: number;
  finishedAt?: number;
}

export type RunState = "running" | "finished" | "stopped";

/** A limiter the run waits on before each fetch. */
export interface Limiter {
  wait(signal?: AbortSignal): Promise<void>;
}

export class TaskRun {
  readonly queue: RequestQueue = new RequestQueue();
  readonly visited: VisitedSet = new VisitedSet();
  readonly stats: TaskStats;
  /** The last errors and the busiest hosts, for the dashboard. */
  readonly activity: TaskActivity = new TaskActivity();
  readonly #controller: AbortController = new AbortController();
  #pending = 0;
  #state: RunState = "running";
  #resolveDone!: (state: RunState) => void;
  /** Resolves when the run has finished its frontier or was stopped. */
  readonly done: Promise<RunState> = new Promise((resolve) => this.#resolveDone = resolve);

  constructor(readonly task: Task, readonly limiter: Limiter, now: number = Date.now()) {
    this.stats = {
      fetched: 0,
      failed: 0,
      retried: 0,
      items: 0,
      tooDeep: 0,
      duplicates: 0,
      queued: 0,
      inFlight: 0,
      startedAt: now,
    };
  }

  get name(): string {
    return this.task.options.name;
  }

  get state(): RunState {
    return this.#state;
  }

  /** Aborted when the run is stopped: in-flight fetches and waits end with it. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /**
   * Queues a request unless it is too deep or (without `reload`) already visited.
   * Dedupe happens here, at push time, so duplicates never take queue memory.
   */
  enqueue(req: CrawlRequest): boolean {
    if (this.#state !== "running") return false;
    const { maxDepth, reload } = this.task.options;
    if (req.depth > maxDepth) {
      this.stats.tooDeep++;
      return false;
    }
    if (!reload && !this.visited.add(requestKey(req))) {
      this.stats.duplicates++;
      return false;
    }
    this.#push(req);
    return true;
  }

  /** Queues a failed request again, bypassing dedupe. */
  retry(req: CrawlRequest): void {
    if (this.#state !== "running") return;
    this.stats.retried++;
    this.#push({ ...req, attempt: req.attempt + 1 });
  }

  /** Marks a pulled request as taken for fetching. */
  begin(): void {
    this.stats.queued--;
    this.stats.inFlight++;
  }

  /** Marks a request as done (after its children were queued); finishes the run at zero. */
  settle(): void {
    this.stats.inFlight--;
    this.#pending--;
    if (this.#pending === 0) this.#end("finished");
  }

  /** Ends the run when nothing was queued at all (e.g. a root deeper than `maxDepth`). */
  finishIfIdle(): void {
    if (this.#pending === 0) this.#end("finished");
  }

  /** Stops the run: nothing more is scheduled, waits and fetches in flight are aborted. */
  stop(reason: unknown = new DOMException("task stopped", "AbortError")): void {
    if (this.#state !== "running") return;
    this.#controller.abort(reason);
    this.#end("stopped");
  }

  #push(req: CrawlRequest): void {
    this.#pending++;
    this.stats.queued++;
    this.queue.push(req);
  }

  #end(state: RunState): void {
    if (this.#state !== "running") return;
    this.#state = state;
    this.stats.finishedAt = Date.now();
    this.stats.queued = 0;
    this.queue.close();
    this.#resolveDone(state);
  }
}
