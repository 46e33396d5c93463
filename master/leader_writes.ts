/**
 * @module
 * The leader's writes to `/resources/` ({@linkcode LeaderWrites}): add, delete, create and move
 * a resource. Each runs under the term's mutex, checks the term's state, writes guarded by the
 * term's election key, and records the change in the state only once the store has it.
 */
import type { Logger } from "../log/logger.ts";
import type {
  AddResourceRequest,
  AddResourceResponse,
  DeleteResourceRequest,
} from "../proto/api_bodies.ts";
import { resourceKey } from "../proto/keys.ts";
import { encodeResourceSpec, type ResourceSpec, unixNanos } from "../proto/resource_spec.ts";
import { isBuiltinTaskSpec, type TaskSpec } from "../proto/task_spec.ts";
import type { Store } from "../store/store.ts";
import { ConflictError, InvalidArgumentError, NotFoundError, NoWorkerError } from "./errors.ts";
import { LeaderState, type WorkerEntry } from "./leader_state.ts";
import type { LeaderTerm } from "./leader_term.ts";
import type { Snowflake } from "./snowflake.ts";
import type { StateDecoder } from "./state_decoder.ts";

/** Options for {@linkcode LeaderWrites}. */
export interface LeaderWritesOptions {
  store: Store;
  /** Gives new resources their ids. */
  ids: Snowflake;
  /** Milliseconds since the epoch, for `CreationTime`. */
  clock: () => number;
  /** Names of the built-in rule sets. */
  ruleSets: ReadonlySet<string>;
  /** The config's `Tasks` names. */
  presets: readonly string[];
  decoder: StateDecoder;
  logger: Logger;
}

/** The leader's resource writes. */
export class LeaderWrites {
  readonly #options: LeaderWritesOptions;
  readonly #logger: Logger;

  constructor(options: LeaderWritesOptions) {
    this.#options = options;
    this.#logger = options.logger;
  }

  /** Adds a resource on the least-loaded worker (SPEC §5). */
  async add(term: LeaderTerm, request: AddResourceRequest): Promise<AddResourceResponse> {
    this.#checkDefinition(request);
    return await term.mutex.runExclusive(async () => {
      const state = term.stateOrThrow();
      if (state.resource(request.name)) {
        throw new ConflictError(`resource "${request.name}" already exists`);
      }
      const worker = state.leastLoadedWorker();
      if (!worker) throw new NoWorkerError();
      const created = await this.create(term, request.name, request.spec, worker);
      if (!created) throw new ConflictError(`resource "${request.name}" already exists`);
      this.#logger.info("add resource", {
        name: created.Name,
        id: created.ID,
        to: created.AssignedNode,
      });
      return { id: worker.id, Address: worker.address };
    });
  }

  /** Deletes a resource; `NotFoundError` when there is none of that name. */
  async delete(term: LeaderTerm, request: DeleteResourceRequest): Promise<void> {
    const { store } = this.#options;
    await term.mutex.runExclusive(async () => {
      const state = term.stateOrThrow();
      if (!state.resource(request.name)) {
        throw new NotFoundError(`resource "${request.name}" does not exist`);
      }
      await term.write((options) => store.delete(resourceKey(request.name), options));
      state.removeResource(request.name);
      this.#logger.info("delete resource", { name: request.name });
    });
  }

  /**
   * Sets or clears `Paused` on a resource (SPEC §9); returns the stored resource. Setting what is
   * already set changes nothing. `NotFoundError` for an unknown name.
   */
  async setPaused(
    term: LeaderTerm,
    request: DeleteResourceRequest,
    paused: boolean,
  ): Promise<ResourceSpec> {
    const { store } = this.#options;
    return await term.mutex.runExclusive(async () => {
      const state = term.stateOrThrow();
      const current = state.resource(request.name);
      if (!current) throw new NotFoundError(`resource "${request.name}" does not exist`);
      if ((current.Paused === true) === paused) return current;
      const { Paused: _, ...rest } = current;
      const updated: ResourceSpec = paused ? { ...rest, Paused: true } : rest;
      const key = resourceKey(updated.Name);
      await term.write((options) => store.put(key, encodeResourceSpec(updated), options));
      state.setResource(updated);
      this.#logger.info(paused ? "pause resource" : "resume resource", { name: updated.Name });
      return updated;
    });
  }

  /**
   * Writes a new resource with put-if-absent, so two masters that both believe they lead can
   * never both add it; records it only once the store has it. Undefined when the key existed
   * (its value is taken into the state instead). Call under the term's mutex.
   */
  async create(
    term: LeaderTerm,
    name: string,
    spec: TaskSpec | undefined,
    worker: WorkerEntry,
  ): Promise<ResourceSpec | undefined> {
    const { store, ids, clock, decoder } = this.#options;
    const state = term.stateOrThrow();
    const resource: ResourceSpec = {
      ID: ids.next(),
      Name: name,
      AssignedNode: LeaderState.assignedNodeOf(worker),
      CreationTime: unixNanos(clock()),
      ...(spec ? { Spec: spec } : {}),
    };
    const key = resourceKey(name);
    const value = encodeResourceSpec(resource);
    if (await term.write((options) => store.create(key, value, options))) {
      state.setResource(resource);
      return resource;
    }
    const existing = await store.get(key);
    const decoded = existing && decoder.resource(existing);
    if (decoded) state.setResource(decoded);
    return undefined;
  }

  /** Rewrites `resource` with a new value (a move); records it once written. Call under the mutex. */
  async replace(term: LeaderTerm, updated: ResourceSpec): Promise<void> {
    const { store } = this.#options;
    const state = term.stateOrThrow();
    await term.write((options) =>
      store.put(resourceKey(updated.Name), encodeResourceSpec(updated), options)
    );
    state.setResource(updated);
  }

  /** A spec must name a built-in rule set; without one the name must be a preset. */
  #checkDefinition(request: AddResourceRequest): void {
    const { ruleSets, presets } = this.#options;
    const spec = request.spec;
    if (spec) {
      if (isBuiltinTaskSpec(spec) && !ruleSets.has(spec.rule)) {
        throw new InvalidArgumentError(
          `spec.rule: unknown rule set "${spec.rule}" (built-in: ${
            [...ruleSets].sort().join(", ")
          })`,
        );
      }
      return;
    }
    if (!ruleSets.has(request.name) && !presets.includes(request.name)) {
      throw new NotFoundError(
        `unknown task "${request.name}": not a built-in rule set or a preset in the config; ` +
          `send a "spec" to define it`,
      );
    }
  }
}
