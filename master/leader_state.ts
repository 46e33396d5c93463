/**
 * @module
 * What the leader knows while it leads: the live workers, workers that vanished lately and are
 * still given a grace period, every resource with its placements, and each worker's payload
 * (how many placements it holds). Plain bookkeeping with no I/O: the leader writes to the store
 * first and then records the change here, under its mutex. It also plans: where a resource
 * should be placed, and which placement to move to even out the loads.
 */
import { buildAssignedNode, parseAssignedNode } from "../proto/assigned_node.ts";
import { placementsOf, type ResourceSpec, withPlacements } from "../proto/resource_spec.ts";
import { wantedWorkers } from "../proto/task_spec.ts";
import type { WorkerRegistration } from "../proto/worker_registration.ts";
import { pickLeastLoaded } from "./assignment.ts";

/** A live worker and its payload. */
export interface WorkerEntry {
  id: string;
  address: string;
  registration: WorkerRegistration;
  payload: number;
}

/** One placement to move: `resource` rewritten with the placement on `from` now on `to`. */
export interface PlacementMove {
  resource: ResourceSpec;
  from: string;
  to: string;
}

/** Options for {@linkcode LeaderState}. */
export interface LeaderStateOptions {
  /** How many workers a resource wants. Default: its `Spec.workers`, else 1. */
  wanted?: (resource: ResourceSpec) => number;
}

/** Workers, resources and payloads of one leadership term. */
export class LeaderState {
  readonly #workers = new Map<string, WorkerRegistration>();
  /** Workers whose registration vanished, with the time (ms) their grace period ends. */
  readonly #departed = new Map<string, number>();
  readonly #resources = new Map<string, ResourceSpec>();
  /** Placements per worker id, live or not, so a worker that comes back has the right count. */
  readonly #payloads = new Map<string, number>();
  readonly #wanted: (resource: ResourceSpec) => number;

  constructor(
    workers: Iterable<WorkerRegistration> = [],
    resources: Iterable<ResourceSpec> = [],
    options: LeaderStateOptions = {},
  ) {
    this.#wanted = options.wanted ?? ((resource) => wantedWorkers(resource.Spec));
    for (const worker of workers) this.putWorker(worker);
    for (const resource of resources) this.setResource(resource);
  }

  /** Number of live workers. */
  get workerCount(): number {
    return this.#workers.size;
  }

  /** Number of resources. */
  get resourceCount(): number {
    return this.#resources.size;
  }

  /** Adds or updates a live worker; true when it was not live before (it joined or returned). */
  putWorker(registration: WorkerRegistration): boolean {
    const isNew = !this.#workers.has(registration.id);
    this.#workers.set(registration.id, registration);
    this.#departed.delete(registration.id);
    return isNew;
  }

  /**
   * Forgets a worker that left; true when it was live. With `graceUntil` (ms since the epoch)
   * its placements stay where they are until then, so a worker that registers again before
   * that costs no move; without it they are orphans at once.
   */
  removeWorker(id: string, graceUntil?: number): boolean {
    const wasLive = this.#workers.delete(id);
    if (wasLive && graceUntil !== undefined) this.#departed.set(id, graceUntil);
    return wasLive;
  }

  /**
   * Gives every worker that holds placements but is not registered a grace period until
   * `graceUntil`: at load time, a worker missing from the snapshot may be registering again
   * (after an etcd restart, say) a moment later. Returns their ids.
   */
  graceUnregistered(graceUntil: number): string[] {
    const ids: string[] = [];
    for (const id of this.#payloads.keys()) {
      if (!this.#workers.has(id) && !this.#departed.has(id)) {
        this.#departed.set(id, graceUntil);
        ids.push(id);
      }
    }
    return ids;
  }

  /** Ends the grace of workers whose period is over at `now`; returns their ids. */
  expireGrace(now: number): string[] {
    const expired: string[] = [];
    for (const [id, until] of this.#departed) {
      if (until <= now) {
        this.#departed.delete(id);
        expired.push(id);
      }
    }
    return expired;
  }

  /** Ids of workers in their grace period. */
  departedWorkers(): string[] {
    return [...this.#departed.keys()].sort(compare);
  }

  /** The live workers with their payloads, sorted by id. */
  workers(): WorkerEntry[] {
    return [...this.#workers.values()]
      .map((registration) => this.#entry(registration))
      .sort((a, b) => compare(a.id, b.id));
  }

  /** A live worker by id. */
  worker(id: string): WorkerEntry | undefined {
    const registration = this.#workers.get(id);
    return registration && this.#entry(registration);
  }

  /** The live worker with the fewest placements (ties: smallest id), or undefined. */
  leastLoadedWorker(exclude: ReadonlySet<string> = new Set()): WorkerEntry | undefined {
    return pickLeastLoaded(this.workers().filter((w) => !exclude.has(w.id)));
  }

  /** The resource named `name`. */
  resource(name: string): ResourceSpec | undefined {
    return this.#resources.get(name);
  }

  /** Every resource, sorted by name. */
  resources(): ResourceSpec[] {
    return [...this.#resources.values()].sort((a, b) => compare(a.Name, b.Name));
  }

  /** Records a resource (new or changed), moving its payload to the workers it is placed on. */
  setResource(resource: ResourceSpec): void {
    const previous = this.#resources.get(resource.Name);
    if (previous) this.#count(previous, -1);
    this.#resources.set(resource.Name, resource);
    this.#count(resource, +1);
  }

  /** Forgets a resource; returns it when it was known. */
  removeResource(name: string): ResourceSpec | undefined {
    const previous = this.#resources.get(name);
    if (!previous) return undefined;
    this.#resources.delete(name);
    this.#count(previous, -1);
    return previous;
  }

  /** How many workers `resource` wants. */
  wanted(resource: ResourceSpec): number {
    return Math.max(1, this.#wanted(resource));
  }

  /** Resources whose placements the leader should change now (see `placementPlan`), by name. */
  orphans(): ResourceSpec[] {
    return this.resources().filter((r) => this.isOrphan(r));
  }

  /** Whether the leader should change `resource`'s placements now. */
  isOrphan(resource: ResourceSpec): boolean {
    return this.placementPlan(resource) !== undefined;
  }

  /**
   * Where `resource` should be placed, or undefined when it should stay as it is. Placements on
   * live workers (and on workers in their grace period) stay; placements on workers that are
   * gone, repeated or malformed go; then the least-loaded live workers that do not hold it yet
   * are added until it has as many as it wants (or every live worker holds it).
   */
  placementPlan(resource: ResourceSpec): ResourceSpec | undefined {
    const current = placementsOf(resource);
    const kept: string[] = [];
    const holders = new Set<string>();
    for (const placement of current) {
      const workerId = parseAssignedNode(placement)?.workerId;
      if (workerId === undefined || holders.has(workerId) || !this.#holds(workerId)) continue;
      holders.add(workerId);
      kept.push(placement);
    }
    const wanted = this.wanted(resource);
    kept.splice(wanted);
    // Payloads as if the dropped placements were gone already, so the choice is fair.
    const adjust = new Map<string, number>();
    for (const placement of current) {
      const workerId = parseAssignedNode(placement)?.workerId;
      if (workerId !== undefined && !kept.includes(placement)) {
        adjust.set(workerId, (adjust.get(workerId) ?? 0) - 1);
      }
    }
    while (kept.length < wanted) {
      const candidates = this.workers()
        .filter((w) => !holders.has(w.id))
        .map((w) => ({ ...w, payload: w.payload + (adjust.get(w.id) ?? 0) }));
      const worker = pickLeastLoaded(candidates);
      if (!worker) break;
      holders.add(worker.id);
      kept.push(LeaderState.assignedNodeOf(worker));
    }
    if (sameList(kept, current)) return undefined;
    if (kept.length === 0 && current.length > 0 && this.#workers.size === 0) return undefined;
    return withPlacements(resource, kept);
  }

  /**
   * The difference in placements between the busiest and the idlest live worker (0 with fewer
   * than two workers).
   */
  spread(): number {
    const payloads = this.workers().map((w) => w.payload);
    return payloads.length < 2 ? 0 : Math.max(...payloads) - Math.min(...payloads);
  }

  /**
   * The next placement to move to even out the loads, or undefined when they are within one of
   * each other, or while the view is not settled (a worker in its grace period, a resource
   * waiting for placements): moving then would move twice. It moves a placement from the
   * busiest live worker to the idlest that does not hold that resource yet, choosing the newest
   * resource (the one that has crawled least, so the move costs least).
   */
  nextMove(): PlacementMove | undefined {
    if (this.#departed.size > 0 || this.#workers.size < 2) return undefined;
    if (this.resources().some((r) => this.isOrphan(r))) return undefined;
    const workers = this.workers();
    const idlest = [...workers].sort((a, b) => a.payload - b.payload || compare(a.id, b.id));
    const busiest = [...workers].sort((a, b) => b.payload - a.payload || compare(a.id, b.id));
    for (const from of busiest) {
      for (const to of idlest) {
        if (from.payload - to.payload <= 1) break;
        const candidates = this.resources().filter((r) => {
          const ids = placementsOf(r).map((p) => parseAssignedNode(p)?.workerId);
          return ids.includes(from.id) && !ids.includes(to.id);
        });
        if (candidates.length === 0) continue;
        const newest = candidates.reduce((a, b) => (newer(b, a) ? b : a));
        const placements = placementsOf(newest).map((p) =>
          parseAssignedNode(p)?.workerId === from.id ? LeaderState.assignedNodeOf(to) : p
        );
        return { resource: withPlacements(newest, placements), from: from.id, to: to.id };
      }
    }
    return undefined;
  }

  /** The `AssignedNode` value for a worker. */
  static assignedNodeOf(worker: WorkerEntry): string {
    return buildAssignedNode({ workerId: worker.id, address: worker.address });
  }

  /** Whether placements on `workerId` stand: it is live, or in its grace period. */
  #holds(workerId: string): boolean {
    return this.#workers.has(workerId) || this.#departed.has(workerId);
  }

  #entry(registration: WorkerRegistration): WorkerEntry {
    return {
      id: registration.id,
      address: registration.address,
      registration,
      payload: this.#payloads.get(registration.id) ?? 0,
    };
  }

  #count(resource: ResourceSpec, delta: number): void {
    const seen = new Set<string>();
    for (const placement of placementsOf(resource)) {
      const workerId = parseAssignedNode(placement)?.workerId;
      if (workerId === undefined || seen.has(workerId)) continue;
      seen.add(workerId);
      const next = (this.#payloads.get(workerId) ?? 0) + delta;
      if (next > 0) this.#payloads.set(workerId, next);
      else this.#payloads.delete(workerId);
    }
  }
}

/** Plain string order, the same on every master (no locale). */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}

/** Whether `a` was created after `b` (snowflake ids break ties). */
function newer(a: ResourceSpec, b: ResourceSpec): boolean {
  if (a.CreationTime !== b.CreationTime) return a.CreationTime > b.CreationTime;
  try {
    return BigInt(a.ID) > BigInt(b.ID);
  } catch {
    return a.ID > b.ID;
  }
}
