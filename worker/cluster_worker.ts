/**
 * @module
 * Cluster mode: the worker registers itself under `/crawler/workers/` on a lease, loads the
 * resources assigned to it, and follows `/resources/` live from the revision of that load.
 * A put assigned here starts the task (once), a put that moves it away or a delete stops it.
 * When the store comes back after an outage it re-registers and reconciles (load + watch).
 */
import type { Logger } from "../log/logger.ts";
import { decodeResourceSpec, placementsOf, type ResourceSpec } from "../proto/resource_spec.ts";
import { parseAssignedNode } from "../proto/assigned_node.ts";
import { resourceNameFromKey, RESOURCES_PREFIX, workerKey } from "../proto/keys.ts";
import { encodeWorkerRegistration, type WorkerRegistration } from "../proto/worker_registration.ts";
import type { Crawler } from "../spider/crawler.ts";
import type { Task } from "../spider/task.ts";
import type { TaskRun, TaskStats } from "../spider/task_run.ts";
import type { TaskActivitySnapshot } from "../spider/task_activity.ts";
import { delay } from "../async/delay.ts";
import type { Store, WatchEvent } from "../store/store.ts";
import { WatchCompactedError } from "../store/store.ts";

/** What this worker knows of one resource assigned to it. */
export interface Assignment {
  name: string;
  /** The resource's ID: a new ID for the same name is a new resource, started afresh. */
  id: string;
  state: "running" | "finished" | "stopped" | "unknown" | "paused";
  /** Why the task cannot run here (state "unknown"). */
  error?: string;
  run?: TaskRun;
}

/** A task's status as the worker's HTTP API shows it. */
export interface AssignmentStatus {
  name: string;
  id: string;
  state: Assignment["state"];
  error?: string;
  stats?: TaskStats;
  /** The run's last errors and busiest hosts. */
  activity?: TaskActivitySnapshot;
}

export interface ClusterWorkerOptions {
  store: Store;
  crawler: Crawler;
  /** Turns a resource into a runnable task; throws when this worker does not know it. */
  resolveTask: (resource: ResourceSpec) => Task;
  registration: WorkerRegistration;
  /** TTL of the registration lease, seconds (`RegisterTTL`). */
  registerTtlSeconds: number;
  logger: Logger;
  /** Wait between attempts while the store is unreachable, ms. Default 500. */
  retryDelayMs?: number;
}

export class ClusterWorker {
  readonly #options: ClusterWorkerOptions;
  readonly #log: Logger;
  readonly #assigned = new Map<string, Assignment>();
  /** Aborted to make the watch loop reload: after a re-registration. */
  #reconcile = new AbortController();
  #registered = false;
  #watching = false;

  constructor(options: ClusterWorkerOptions) {
    this.#options = options;
    this.#log = options.logger;
  }

  get id(): string {
    return this.#options.registration.id;
  }

  /** True while the registration lease is held and the watch is live. */
  get ready(): boolean {
    return this.#registered && this.#watching;
  }

  status(): AssignmentStatus[] {
    return [...this.#assigned.values()].map((a) => ({
      name: a.name,
      id: a.id,
      state: a.state,
      error: a.error,
      stats: a.run ? { ...a.run.stats } : undefined,
      activity: a.run?.activity.snapshot(),
    }));
  }

  /** Runs until `signal` aborts; then stops every task and revokes the registration. */
  async run(signal: AbortSignal): Promise<void> {
    const loops = [this.#keepRegistered(signal), this.#follow(signal)];
    await Promise.all(loops);
    for (const name of [...this.#assigned.keys()]) this.#stop(name, "worker shutting down");
  }

  async #keepRegistered(signal: AbortSignal): Promise<void> {
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
        this.#registered = true;
        this.#log.info("worker registered", { worker: registration.id, lease: lease.id });
        // Whatever happened while we were away (reassignments), load it afresh.
        this.#reconcile.abort();
        await untilAborted(lease.signal, signal);
        this.#registered = false;
        if (signal.aborted) {
          await lease.revoke().catch((error) =>
            this.#log.warn("revoking the registration failed", { error })
          );
          return;
        }
        this.#log.warn("registration lease lost; registering again", {
          reason: String(lease.signal.reason),
        });
      } catch (error) {
        if (signal.aborted) return;
        this.#log.warn("registering failed; retrying", { error });
        await delay(this.#options.retryDelayMs ?? 500, { signal }).catch(() => {});
      }
    }
  }

  /** Load what is assigned here, then watch from that revision; reload when told or broken. */
  async #follow(signal: AbortSignal): Promise<void> {
    const { store } = this.#options;
    while (!signal.aborted) {
      this.#reconcile = new AbortController();
      const watchSignal = AbortSignal.any([signal, this.#reconcile.signal]);
      try {
        const { kvs, revision } = await store.getPrefix(RESOURCES_PREFIX);
        this.#sync(kvs.map((kv) => kv.value));
        this.#watching = true;
        for await (
          const event of store.watchPrefix(RESOURCES_PREFIX, {
            fromRevision: revision + 1,
            signal: watchSignal,
          })
        ) {
          this.#handle(event);
        }
      } catch (error) {
        if (signal.aborted) break;
        if (error instanceof WatchCompactedError) {
          this.#log.warn("resource watch compacted; reloading", { error });
        } else {
          this.#log.warn("loading or watching resources failed; retrying", { error });
          await delay(this.#options.retryDelayMs ?? 500, { signal }).catch(() => {});
        }
      } finally {
        this.#watching = false;
      }
      if (this.#reconcile.signal.aborted && !signal.aborted) {
        this.#log.info("reconciling resources");
      }
    }
  }

  /** Makes the running set exactly the resources assigned here among `values`. */
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

  #handle(event: WatchEvent): void {
    if (event.type === "delete") {
      const name = event.prevKv
        ? this.#decode(event.prevKv.value)?.Name
        : resourceNameFromKey(event.key);
      if (name && this.#assigned.has(name)) this.#stop(name, "resource deleted");
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
    const current = this.#assigned.get(resource.Name);
    if (current?.id === resource.ID) return; // the same put seen again
    if (current) this.#stop(resource.Name, "replaced by a new resource of the same name");
    let task: Task;
    try {
      task = this.#options.resolveTask(resource);
    } catch (error) {
      const message = (error as Error).message;
      this.#assigned.set(resource.Name, {
        name: resource.Name,
        id: resource.ID,
        state: "unknown",
        error: message,
      });
      this.#log.error("cannot run assigned resource", { resource: resource.Name, error: message });
      return;
    }
    const run = this.#options.crawler.start(task);
    const assignment: Assignment = { name: resource.Name, id: resource.ID, state: "running", run };
    this.#assigned.set(resource.Name, assignment);
    run.done.then((state) => {
      if (this.#assigned.get(resource.Name) === assignment) assignment.state = state;
    });
    this.#log.info("task started", { resource: resource.Name, id: resource.ID });
  }

  #stop(name: string, reason: string): void {
    const assignment = this.#assigned.get(name);
    if (!assignment) return;
    this.#assigned.delete(name);
    if (assignment.run) this.#options.crawler.stop(name);
    this.#log.info("task stopped", { resource: name, reason });
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
      run: sameResource ? current?.run : undefined,
    });
    this.#log.info("task paused", { resource: resource.Name, id: resource.ID });
    return true;
  }

  /** Whether this worker is one of the resource's placements (SPEC §7: `workers: N`). */
  #isMine(resource: ResourceSpec): boolean {
    return placementsOf(resource).some((p) => parseAssignedNode(p)?.workerId === this.id);
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

/** Resolves when either signal aborts. */
function untilAborted(a: AbortSignal, b: AbortSignal): Promise<void> {
  if (a.aborted || b.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      a.removeEventListener("abort", done);
      b.removeEventListener("abort", done);
      resolve();
    };
    a.addEventListener("abort", done, { once: true });
    b.addEventListener("abort", done, { once: true });
  });
}
