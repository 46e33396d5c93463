/**
 * @module
 * Cluster mode: the worker registers itself under `/crawler/workers/` on a lease, loads the
 * resources placed on it, and follows `/resources/` live from the revision of that load.
 *
 * It runs tasks only while it holds a live registration (self-fencing):
 * - it starts nothing before it is registered;
 * - it stops every task (aborting in-flight fetches) as soon as its own clock says the lease may
 *   have expired (the last acknowledged keep-alive + TTL, minus a margin), before any master
 *   can see the lease gone and move the tasks;
 * - once the lease is kept alive again, or a new one is registered, it loads its assignments
 *   afresh and watches from there;
 * - before it starts a task it holds a claim on it (`task_claims.ts`), so a task moved here does
 *   not start while the worker it left may still run it.
 */
import type { Logger } from "../log/logger.ts";
import { decodeResourceSpec, placedWorkerIds, type ResourceSpec } from "../proto/resource_spec.ts";
import { resourceNameFromKey, RESOURCES_PREFIX, workerKey } from "../proto/keys.ts";
import { encodeWorkerRegistration, type WorkerRegistration } from "../proto/worker_registration.ts";
import type { Crawler } from "../spider/crawler.ts";
import type { RuleSet } from "../spider/rule_set.ts";
import type { Task } from "../spider/task.ts";
import { isWaiting, type TaskRun, type TaskStats } from "../spider/task_run.ts";
import type { TaskActivitySnapshot } from "../spider/task_activity.ts";
import type { HostCounts } from "../spider/politeness/host_counters.ts";
import { delay } from "../async/delay.ts";
import type { Lease, Store, WatchEvent } from "../store/store.ts";
import { WatchCompactedError } from "../store/store.ts";
import { runOutcome } from "./run_outcome.ts";
import { LeaseFence } from "./lease_fence.ts";
import { TaskClaims } from "./task_claims.ts";

/** Where a task assigned to this worker stands. */
export type AssignmentState =
  /** Waiting for another worker's claim on it to go (see `task_claims.ts`). */
  | "claiming"
  | "running"
  | "finished"
  /** It ended without fetching a page (its root failed); `error` says why. */
  | "failed"
  | "stopped"
  /** This worker cannot run it (unknown rule set); `error` says why. */
  | "unknown"
  /** Paused through the API: assigned here, not running (see `#holdPaused`). */
  | "paused";

/** Hosts listed per task in the status (and metrics): the most requested ones. */
const STATUS_HOSTS = 50;

/** What this worker knows of one resource assigned to it. */
export interface Assignment {
  /** The resource's name (its task's). */
  name: string;
  /** The resource's ID: a new ID for the same name is a new resource, started afresh. */
  id: string;
  /** Where the task stands on this worker. */
  state: AssignmentState;
  /** Why the task failed or cannot run here. */
  error?: string;
  /** The latest value of the resource seen (its placements decide whose claims are fine). */
  resource: ResourceSpec;
  /** The task's run on the engine, once it started. */
  run?: TaskRun;
  /** Ends the claim wait when the task is stopped before it starts. */
  readonly abort: AbortController;
}

/** A task's status as the worker's HTTP API shows it. */
export interface AssignmentStatus {
  /** The resource's name. */
  name: string;
  /** The resource's ID. */
  id: string;
  /**
   * Where the task stands on this worker; `waiting` is a running recrawl task with nothing to
   * fetch until its next visit is due (`isWaiting`: a recrawl task never finishes).
   */
  state: AssignmentState | "waiting";
  /** Why the task failed or cannot run here. */
  error?: string;
  /** The run's counters, once it started. */
  stats?: TaskStats;
  /** The run's last errors and busiest hosts. */
  activity?: TaskActivitySnapshot;
  /** Declarative tasks: how each rule reads pages (`scan`, `stream`, or `dom` and why). */
  parsePaths?: RuleSet["parsePaths"];
  /** Per-host counters of the run (docs/frontier.md, "Politeness"), most requested hosts first. */
  hosts?: HostCounts[];
}

/** Options for {@linkcode ClusterWorker}. */
export interface ClusterWorkerOptions {
  /** The coordination store the worker registers in and reads its assignments from. */
  store: Store;
  /** The engine the worker runs its tasks on; its owner closes it after `run` ends. */
  crawler: Crawler;
  /** Turns a resource into a runnable task; throws when this worker does not know it. */
  resolveTask: (resource: ResourceSpec) => Task;
  /** What the worker registers under `/crawler/workers/` (its id and addresses). */
  registration: WorkerRegistration;
  /** TTL of the registration lease, seconds (`RegisterTTL`). */
  registerTtlSeconds: number;
  /** Where the worker logs its registration, assignments and fencing. */
  logger: Logger;
  /** Wait between attempts while the store is unreachable, ms. Default 500. */
  retryDelayMs?: number;
  /**
   * How long before the lease may expire (by this process's clock) the worker stops its tasks,
   * ms. Default: a fifth of the TTL, at least 200 ms.
   */
  fenceMarginMs?: number;
}

/** The period in which the worker may run tasks: one lease, while it is known alive. */
interface Term {
  readonly lease: Lease;
  readonly fence: LeaseFence;
  /** Aborted when the term ends: the lease may have expired, was lost, or the worker stops. */
  readonly signal: AbortSignal;
}

/** How a task leaves this worker. */
interface HaltOptions {
  /** The resource was deleted: remove its crawl from the frontier too. */
  drop?: boolean;
}

/**
 * A worker of the cluster: it keeps its registration alive in the store, runs on its
 * `Crawler` the resources the leader placed on it (each once it holds the task's claim), and
 * stops them the moment its lease may have lapsed (see the module doc). `createClusterWorker`
 * (`run_worker.ts`) builds it with its crawler, HTTP and gRPC servers; its owner calls `run`
 * once and stops it by aborting the signal given to `run`, which stops every task and revokes
 * the registration. The crawler and the store stay open for the owner to close.
 *
 * @example
 * ```ts
 * const worker = new ClusterWorker({ store, crawler, resolveTask, registration,
 *   registerTtlSeconds: 10, logger });
 * const stop = new AbortController();
 * const running = worker.run(stop.signal);
 * // … later
 * stop.abort();
 * await running;
 * await crawler.close();
 * ```
 */
export class ClusterWorker {
  readonly #options: ClusterWorkerOptions;
  readonly #log: Logger;
  readonly #assigned = new Map<string, Assignment>();
  readonly #claims: TaskClaims;
  readonly #marginMs: number;
  #term: Term | undefined;
  #watching = false;

  /** A worker not yet registered: call {@linkcode ClusterWorker.run} to start it. */
  constructor(options: ClusterWorkerOptions) {
    this.#options = options;
    this.#log = options.logger;
    const ttlMs = options.registerTtlSeconds * 1000;
    this.#marginMs = options.fenceMarginMs ?? Math.max(200, ttlMs / 5);
    this.#claims = new TaskClaims({
      store: options.store,
      workerId: options.registration.id,
      logger: options.logger,
      // A claim outlives its worker by at most its lease's TTL; the margin covers clock skew.
      maxWaitMs: ttlMs + 1000,
    });
  }

  /** This worker's id: its registration's, the key of its entry under `/crawler/workers/`. */
  get id(): string {
    return this.#options.registration.id;
  }

  /** True while the registration lease is known alive and the watch is live. */
  get ready(): boolean {
    return this.#watching && this.mayRun();
  }

  /**
   * True while this worker may act for its tasks: registered, and its lease known alive with
   * the margin to spare. The engine asks before every fetch, so a process resumed after a
   * pause fetches nothing even before its timers have fired.
   */
  mayRun(): boolean {
    const term = this.#term;
    return term !== undefined && !term.signal.aborted && term.fence.mayAct();
  }

  /** Every task assigned here, with its state and, once it ran, its run's figures. */
  status(): AssignmentStatus[] {
    return [...this.#assigned.values()].map((a) => ({
      name: a.name,
      id: a.id,
      state: a.state === "running" && a.run && isWaiting(a.run.stats) ? "waiting" : a.state,
      error: a.error,
      stats: a.run ? { ...a.run.stats } : undefined,
      activity: a.run?.activity.snapshot(),
      parsePaths: a.run?.task.ruleSet.parsePaths,
      hosts: a.run?.hosts.list(STATUS_HOSTS),
    }));
  }

  /** Runs until `signal` aborts; then stops every task and revokes the registration. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const lease = await this.#register(signal);
      if (!lease) break;
      await this.#hold(lease, signal);
      if (signal.aborted) {
        await lease.revoke().catch((error) =>
          this.#log.warn("revoking the registration failed", { error })
        );
      } else {
        this.#log.warn("registration lease lost; registering again", {
          reason: String(lease.signal.reason),
        });
      }
    }
    this.#stopAll("worker shutting down");
  }

  /** Grants a lease and puts the registration on it, retrying until done or `signal` aborts. */
  async #register(signal: AbortSignal): Promise<Lease | undefined> {
    const { store, registration, registerTtlSeconds } = this.#options;
    while (!signal.aborted) {
      try {
        const lease = await store.grantLease(registerTtlSeconds);
        try {
          await lease.put(workerKey(registration.id), encodeWorkerRegistration(registration));
        } catch (error) {
          await lease.revoke().catch(() => {});
          throw error;
        }
        this.#log.info("worker registered", { worker: registration.id, lease: lease.id });
        return lease;
      } catch (error) {
        if (signal.aborted) break;
        this.#log.warn("registering failed; retrying", { error });
        await delay(this.#options.retryDelayMs ?? 500, { signal }).catch(() => {});
      }
    }
    return undefined;
  }

  /**
   * Runs terms on `lease` until it is lost or `signal` aborts: follow the assignments while the
   * lease is known alive; when it may have expired, stop everything and wait for a keep-alive.
   */
  async #hold(lease: Lease, signal: AbortSignal): Promise<void> {
    const fence = new LeaseFence(lease, { marginMs: this.#marginMs });
    let fencedAt = Number.NEGATIVE_INFINITY;
    while (!signal.aborted && !lease.signal.aborted) {
      if (!fence.mayResume(fencedAt)) {
        await fence.resumable(fencedAt, signal);
        continue;
      }
      const fenced = new AbortController();
      const term: Term = {
        lease,
        fence,
        signal: AbortSignal.any([signal, lease.signal, fenced.signal]),
      };
      // Stop at once when the term ends, not when the follow loop has wound down.
      term.signal.addEventListener("abort", () => {
        if (this.#term === term) this.#term = undefined;
        this.#stopAll(describe(term.signal.reason));
      }, { once: true });
      const disarm = fence.arm(() => {
        this.#log.warn("registration lease may have expired; tasks stopped until it is renewed", {
          lease: lease.id,
          aliveUntil: new Date(lease.aliveUntil).toISOString(),
          fencedAt: new Date(lease.aliveUntil - this.#marginMs).toISOString(),
        });
        fencedAt = Date.now();
        fenced.abort(new Error("the registration lease may have expired"));
      });
      this.#term = term;
      try {
        await this.#follow(term);
      } finally {
        disarm();
        if (this.#term === term) this.#term = undefined;
      }
    }
  }

  /** Load what is assigned here, then watch from that revision; reload when broken. */
  async #follow(term: Term): Promise<void> {
    const { store } = this.#options;
    while (!term.signal.aborted) {
      try {
        const { kvs, revision } = await store.getPrefix(RESOURCES_PREFIX);
        if (term.signal.aborted) break;
        this.#sync(kvs.map((kv) => kv.value));
        this.#releaseStaleClaims();
        this.#watching = true;
        for await (
          const event of store.watchPrefix(RESOURCES_PREFIX, {
            fromRevision: revision + 1,
            signal: term.signal,
          })
        ) {
          if (term.signal.aborted) break;
          this.#handle(event);
        }
      } catch (error) {
        if (term.signal.aborted) break;
        if (error instanceof WatchCompactedError) {
          this.#log.info("resource watch compacted; reloading", { error });
        } else {
          this.#log.warn("loading or watching resources failed; retrying", { error });
          await delay(this.#options.retryDelayMs ?? 500, { signal: term.signal }).catch(() => {});
        }
      } finally {
        this.#watching = false;
      }
    }
  }

  /** Makes the running set exactly the resources placed here among `values`. */
  #sync(values: string[]): void {
    const mine = new Map<string, ResourceSpec>();
    for (const value of values) {
      const resource = this.#decode(value);
      if (resource && this.#isMine(resource)) mine.set(resource.Name, resource);
    }
    for (const name of [...this.#assigned.keys()]) {
      if (!mine.has(name)) this.#stop(name, "no longer assigned to this worker");
    }
    this.#log.info("loaded assigned resources", { count: mine.size });
    for (const resource of mine.values()) if (!this.#holdPaused(resource)) this.#start(resource);
  }

  /** Deletes claims of ours on tasks we no longer have (left by a fenced run or a past life). */
  #releaseStaleClaims(): void {
    this.#claims.releaseAllBut((name) => this.#assigned.has(name)).then(
      (released) => {
        if (released.length > 0) this.#log.info("released stale claims", { tasks: released });
      },
      (error) => this.#log.warn("releasing stale claims failed", { error }),
    );
  }

  #handle(event: WatchEvent): void {
    if (event.type === "delete") {
      const name = event.prevKv
        ? this.#decode(event.prevKv.value)?.Name
        : resourceNameFromKey(event.key);
      if (name && this.#assigned.has(name)) this.#stop(name, "resource deleted", { drop: true });
      return;
    }
    const resource = this.#decode(event.kv.value);
    if (!resource) return;
    if (this.#isMine(resource)) {
      if (!this.#holdPaused(resource)) this.#start(resource);
    } else if (this.#assigned.has(resource.Name)) {
      this.#stop(resource.Name, `moved to ${resource.AssignedNode}`);
    }
  }

  #start(resource: ResourceSpec): void {
    const term = this.#term;
    if (!term || !this.mayRun()) return; // the term is ending: the next one loads afresh
    const current = this.#assigned.get(resource.Name);
    if (current?.id === resource.ID) {
      current.resource = resource; // the same resource: maybe new placements, same run
      return;
    }
    if (current) this.#stop(resource.Name, "replaced by a new resource of the same name");
    const assignment: Assignment = {
      name: resource.Name,
      id: resource.ID,
      state: "claiming",
      resource,
      abort: new AbortController(),
    };
    this.#assigned.set(resource.Name, assignment);
    let task: Task;
    try {
      task = this.#options.resolveTask(resource);
    } catch (error) {
      assignment.state = "unknown";
      assignment.error = (error as Error).message;
      this.#log.error("cannot run assigned resource", {
        resource: resource.Name,
        error: assignment.error,
      });
      return;
    }
    this.#claimAndStart(assignment, task, term).catch((error) => {
      this.#log.error("starting a task failed", { resource: assignment.name, error });
    });
  }

  async #claimAndStart(assignment: Assignment, task: Task, term: Term): Promise<void> {
    const signal = AbortSignal.any([assignment.abort.signal, term.signal]);
    let claimed;
    try {
      claimed = await this.#claims.acquire(term.lease, {
        name: assignment.name,
        resourceId: assignment.id,
        placements: () => placedWorkerIds(assignment.resource),
      }, signal);
    } catch (error) {
      if (signal.aborted) return; // stopped, moved or fenced before it could start
      throw error;
    }
    if (signal.aborted || this.#assigned.get(assignment.name) !== assignment || !this.mayRun()) {
      return;
    }
    if (claimed.overridden.length > 0) {
      this.#log.warn("other workers' claims outlived their lease TTL; starting anyway", {
        resource: assignment.name,
        workers: claimed.overridden,
      });
    }
    // The resource's ID names its crawl: every worker of the resource shares one frontier.
    const run = this.#options.crawler.start(task, { crawl: assignment.id });
    assignment.run = run;
    assignment.state = "running";
    run.done.then(() => {
      if (this.#assigned.get(assignment.name) !== assignment) return;
      const outcome = runOutcome(run);
      assignment.state = outcome.state;
      assignment.error = outcome.error;
      if (outcome.state === "failed") {
        this.#log.warn("task failed", { resource: assignment.name, error: outcome.error });
      }
    });
    this.#log.info("task started", {
      resource: assignment.name,
      id: assignment.id,
      claimWaitMs: claimed.waitedMs,
    });
  }

  /** Stops a task that left this worker, and gives up its claim. */
  #stop(name: string, reason: string, options: HaltOptions = {}): void {
    if (!this.#halt(name, reason, options)) return;
    this.#claims.release(name).catch((error) =>
      this.#log.warn("releasing a claim failed; it goes with the lease", {
        resource: name,
        error,
      })
    );
  }

  /**
   * Stops every task at once. Claims stay: the lease they live on is lost or may be, and the
   * next load releases those of tasks that are no longer ours.
   */
  #stopAll(reason: string): void {
    for (const name of [...this.#assigned.keys()]) this.#halt(name, reason);
  }

  /** Forgets a task and aborts its claim wait or its run. False when it was not here. */
  #halt(name: string, reason: string, options: HaltOptions = {}): boolean {
    const assignment = this.#assigned.get(name);
    if (!assignment) return false;
    this.#assigned.delete(name);
    assignment.abort.abort(new Error(reason));
    const wasRunning = assignment.run?.state === "running";
    // A deleted resource's crawl goes from the frontier, whether its run is live or ended.
    if (options.drop) this.#options.crawler.dropCrawl(name, assignment.id);
    else if (wasRunning) this.#options.crawler.stop(name);
    this.#log.info("task stopped", { resource: name, reason, wasRunning });
    return true;
  }

  /**
   * Pause and resume (`Paused` in the resource): a paused resource stays assigned here without
   * running (its run is stopped without dropping its frontier, and kept for its counters, frozen
   * where the pause left them); true when `#start` must not run it. On resume the paused entry
   * is dropped, so `#start` starts it again and it resumes from its frontier.
   */
  #holdPaused(resource: ResourceSpec): boolean {
    const current = this.#assigned.get(resource.Name);
    const sameResource = current?.id === resource.ID;
    if (resource.Paused !== true) {
      if (sameResource && current?.state === "paused") this.#stop(resource.Name, "resumed");
      return false;
    }
    if (sameResource && current?.state === "paused") return true;
    if (current) this.#stop(resource.Name, "paused");
    this.#assigned.set(resource.Name, {
      name: resource.Name,
      id: resource.ID,
      state: "paused",
      resource,
      run: sameResource ? current?.run : undefined,
      abort: new AbortController(),
    });
    this.#log.info("task paused", { resource: resource.Name, id: resource.ID });
    return true;
  }

  #isMine(resource: ResourceSpec): boolean {
    return placedWorkerIds(resource).includes(this.id);
  }

  #decode(value: string): ResourceSpec | undefined {
    try {
      return decodeResourceSpec(value);
    } catch (error) {
      this.#log.error("ignoring a malformed resource value", { value, error });
      return undefined;
    }
  }
}

function describe(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason);
}
