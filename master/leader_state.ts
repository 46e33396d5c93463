/**
 * @module
 * What the leader knows while it leads: the live workers, every resource, and each worker's
 * payload (how many resources are assigned to it). Plain bookkeeping with no I/O: the master
 * writes to the store first and then records the change here, under its mutex.
 */
import { buildAssignedNode, parseAssignedNode } from "../proto/assigned_node.ts";
import type { ResourceSpec } from "../proto/resource_spec.ts";
import type { WorkerRegistration } from "../proto/worker_registration.ts";
import { pickLeastLoaded } from "./assignment.ts";

/** A live worker and its payload. */
export interface WorkerEntry {
  id: string;
  address: string;
  registration: WorkerRegistration;
  payload: number;
}

/** Workers, resources and payloads of one leadership term. */
export class LeaderState {
  readonly #workers = new Map<string, WorkerRegistration>();
  readonly #resources = new Map<string, ResourceSpec>();
  /** Resources per worker id, live or not, so a worker that comes back has the right count. */
  readonly #payloads = new Map<string, number>();

  constructor(workers: Iterable<WorkerRegistration> = [], resources: Iterable<ResourceSpec> = []) {
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

  /** Adds or updates a live worker; true when it is new. */
  putWorker(registration: WorkerRegistration): boolean {
    const isNew = !this.#workers.has(registration.id);
    this.#workers.set(registration.id, registration);
    return isNew;
  }

  /** Forgets a worker that left; true when it was known. Its resources become orphans. */
  removeWorker(id: string): boolean {
    return this.#workers.delete(id);
  }

  /** The live workers with their payloads, sorted by id. */
  workers(): WorkerEntry[] {
    return [...this.#workers.values()]
      .map((registration) => this.#entry(registration))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** A live worker by id. */
  worker(id: string): WorkerEntry | undefined {
    const registration = this.#workers.get(id);
    return registration && this.#entry(registration);
  }

  /** The live worker with the fewest resources (ties: smallest id), or undefined. */
  leastLoadedWorker(): WorkerEntry | undefined {
    return pickLeastLoaded(this.workers());
  }

  /** The resource named `name`. */
  resource(name: string): ResourceSpec | undefined {
    return this.#resources.get(name);
  }

  /** Every resource, sorted by name. */
  resources(): ResourceSpec[] {
    return [...this.#resources.values()].sort((a, b) =>
      a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0
    );
  }

  /** Records a resource (new or changed), moving its payload to the worker it is assigned to. */
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

  /** Resources not assigned to a live worker (unassigned, malformed, or their worker left), by name. */
  orphans(): ResourceSpec[] {
    return this.resources().filter((r) => this.isOrphan(r));
  }

  /** Whether `resource` is not assigned to a live worker. */
  isOrphan(resource: ResourceSpec): boolean {
    const node = parseAssignedNode(resource.AssignedNode);
    return !node || !this.#workers.has(node.workerId);
  }

  /** The `AssignedNode` value for a worker. */
  static assignedNodeOf(worker: WorkerEntry): string {
    return buildAssignedNode({ workerId: worker.id, address: worker.address });
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
    const workerId = parseAssignedNode(resource.AssignedNode)?.workerId;
    if (workerId === undefined) return;
    const next = (this.#payloads.get(workerId) ?? 0) + delta;
    if (next > 0) this.#payloads.set(workerId, next);
    else this.#payloads.delete(workerId);
  }
}
