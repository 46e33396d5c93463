/**
 * @module
 * The leader's writes to `/resources/` ({@linkcode LeaderWrites}): add, delete, create and
 * replace a resource. Each runs under the term's mutex, checks the term's state, writes guarded
 * by the term's election key, and records the change in the state only once the store has it.
 *
 * Answers tell the truth when a request is repeated: an add repeated with the same name, spec
 * and request identity answers with the resource it made; a delete repeated after its first
 * attempt was applied answers success (a deletion record, `/crawler/deleted/<name>`, is written
 * before the delete and kept for {@linkcode TOMBSTONE_TTL_MS}).
 */
import { isDeepStrictEqual } from "node:util";
import type { Logger } from "../log/logger.ts";
import type {
  AddResourceRequest,
  AddResourceResponse,
  DeleteResourceRequest,
} from "../proto/api_bodies.ts";
import { parseAssignedNode } from "../proto/assigned_node.ts";
import {
  resourceKey,
  tombstoneKey,
  tombstoneNameFromKey,
  TOMBSTONES_PREFIX,
} from "../proto/keys.ts";
import {
  encodeResourceSpec,
  placementsOf,
  type ResourceSpec,
  unixNanos,
} from "../proto/resource_spec.ts";
import { isBuiltinTaskSpec, type TaskSpec, wantedWorkers } from "../proto/task_spec.ts";
import { decodeTombstone, encodeTombstone } from "../proto/tombstone.ts";
import type { Store } from "../store/store.ts";
import {
  ConflictError,
  InvalidArgumentError,
  NotFoundError,
  NotLeaderError,
  NoWorkerError,
} from "./errors.ts";
import type { LeaderTerm } from "./leader_term.ts";
import type { Snowflake } from "./snowflake.ts";
import type { StateDecoder } from "./state_decoder.ts";

/** How long a deletion record makes a repeated delete succeed, ms. */
export const TOMBSTONE_TTL_MS = 60_000;

/** Options for {@linkcode LeaderWrites}. */
export interface LeaderWritesOptions {
  store: Store;
  /** Gives new resources their ids. */
  ids: Snowflake;
  /** Milliseconds since the epoch, for `CreationTime` and deletion records. */
  clock: () => number;
  /** Names of the built-in rule sets. */
  ruleSets: ReadonlySet<string>;
  /** The config's `Tasks` names. */
  presets: readonly string[];
  /**
   * Why a task may not run on several workers (the frontier is not shared), or undefined when
   * it may. Default: it may.
   */
  multiWorkerRefusal?: string;
  decoder: StateDecoder;
  logger: Logger;
}

/** What a new resource is made of. */
export interface NewResource {
  name: string;
  spec?: TaskSpec;
  /** The add request's identity (see `ResourceSpec.RequestID`). */
  requestId?: string;
}

/** The leader's resource writes. */
export class LeaderWrites {
  readonly #options: LeaderWritesOptions;
  readonly #logger: Logger;

  constructor(options: LeaderWritesOptions) {
    this.#options = options;
    this.#logger = options.logger;
  }

  /**
   * Adds a resource on the least-loaded workers (SPEC §5, §7). A name that exists is a
   * `ConflictError`, unless the request repeats the one that made it (same spec and `id`):
   * then the answer is that resource's first placement, as the first attempt's was.
   */
  async add(
    term: LeaderTerm,
    request: AddResourceRequest,
    signal?: AbortSignal,
  ): Promise<AddResourceResponse> {
    this.#checkDefinition(request);
    return await term.mutex.runExclusive(async () => {
      throwIfAbandoned(signal);
      const state = term.stateOrThrow();
      const existing = state.resource(request.name);
      if (existing) return this.#repeatedAdd(existing, request);
      if (state.workerCount === 0) throw new NoWorkerError();
      const created = await this.create(term, {
        name: request.name,
        spec: request.spec,
        requestId: request.id,
      });
      if (!created) {
        const now = state.resource(request.name);
        if (now) return this.#repeatedAdd(now, request);
        throw new ConflictError(`resource "${request.name}" already exists`);
      }
      this.#logger.info("add resource", {
        name: created.Name,
        id: created.ID,
        to: created.AssignedNode,
        ...(created.Placements ? { placements: created.Placements } : {}),
      });
      return nodeOf(created);
    });
  }

  /**
   * Deletes a resource. A name that is gone answers success when a deletion record says it was
   * deleted in the last {@linkcode TOMBSTONE_TTL_MS} (the caller's earlier attempt, whose answer
   * was lost), `NotFoundError` otherwise.
   */
  async delete(
    term: LeaderTerm,
    request: DeleteResourceRequest,
    signal?: AbortSignal,
  ): Promise<void> {
    const { store, clock } = this.#options;
    await term.mutex.runExclusive(async () => {
      throwIfAbandoned(signal);
      const state = term.stateOrThrow();
      const name = request.name;
      const resource = state.resource(name);
      if (!resource) {
        if (await this.#deletedLately(name)) return;
        throw new NotFoundError(`resource "${name}" does not exist`);
      }
      // The record goes first: if the delete then fails, the resource is still there and a
      // retry deletes it; if the delete's answer is lost, the record makes the retry succeed.
      const record = encodeTombstone({ ID: resource.ID, DeletedAt: clock() });
      await term.write((options) => store.put(tombstoneKey(name), record, options));
      await term.write((options) => store.delete(resourceKey(name), options), {
        applied:
          async () => ((await store.get(resourceKey(name))) === undefined ? true : undefined),
      });
      state.removeResource(name);
      this.#logger.info("delete resource", { name });
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
   * Writes a new resource, placed on the least-loaded workers it wants, with put-if-absent, so
   * two masters that both believe they lead can never both add it; records it only once the
   * store has it. Undefined when the key existed (its value is taken into the state instead).
   * Throws `NoWorkerError` when no worker can take it. Call under the term's mutex.
   */
  async create(term: LeaderTerm, fields: NewResource): Promise<ResourceSpec | undefined> {
    const { store, ids, clock, decoder } = this.#options;
    const state = term.stateOrThrow();
    const draft: ResourceSpec = {
      ID: ids.next(),
      Name: fields.name,
      AssignedNode: "",
      CreationTime: unixNanos(clock()),
      ...(fields.spec ? { Spec: fields.spec } : {}),
      ...(fields.requestId ? { RequestID: fields.requestId } : {}),
    };
    const resource = state.placementPlan(draft);
    if (!resource || placementsOf(resource).length === 0) throw new NoWorkerError();
    const key = resourceKey(fields.name);
    const value = encodeResourceSpec(resource);
    const created = await term.write((options) => store.create(key, value, options), {
      applied: async () => ((await store.get(key))?.value === value ? true : undefined),
    });
    if (created) {
      state.setResource(resource);
      return resource;
    }
    const existing = await store.get(key);
    const decoded = existing && decoder.resource(existing);
    if (decoded) state.setResource(decoded);
    return undefined;
  }

  /** Rewrites a resource (new placements); records it once written. Call under the mutex. */
  async replace(term: LeaderTerm, updated: ResourceSpec): Promise<void> {
    const { store } = this.#options;
    const state = term.stateOrThrow();
    await term.write((options) =>
      store.put(resourceKey(updated.Name), encodeResourceSpec(updated), options)
    );
    state.setResource(updated);
  }

  /** Deletes deletion records older than {@linkcode TOMBSTONE_TTL_MS}. */
  async pruneTombstones(term: LeaderTerm): Promise<void> {
    const { store, clock } = this.#options;
    const { kvs } = await store.getPrefix(TOMBSTONES_PREFIX);
    for (const kv of kvs) {
      if (tombstoneNameFromKey(kv.key) === undefined) continue;
      let deletedAt = 0;
      try {
        deletedAt = decodeTombstone(kv.value).DeletedAt;
      } catch {
        // A malformed record is pruned like an old one.
      }
      if (clock() - deletedAt < TOMBSTONE_TTL_MS) continue;
      await term.write((options) => store.delete(kv.key, options));
    }
  }

  async #deletedLately(name: string): Promise<boolean> {
    const { store, clock } = this.#options;
    const kv = await store.get(tombstoneKey(name));
    if (!kv) return false;
    try {
      return clock() - decodeTombstone(kv.value).DeletedAt < TOMBSTONE_TTL_MS;
    } catch {
      return false;
    }
  }

  /** The answer to an add of a name that exists: its placement when it repeats the add. */
  #repeatedAdd(existing: ResourceSpec, request: AddResourceRequest): AddResourceResponse {
    const repeated = request.id !== undefined && existing.RequestID === request.id &&
      isDeepStrictEqual(existing.Spec, request.spec);
    if (!repeated) throw new ConflictError(`resource "${request.name}" already exists`);
    this.#logger.info("add repeated; answering with the resource it made", {
      name: existing.Name,
      requestId: request.id,
    });
    return nodeOf(existing);
  }

  /** A spec must name a built-in rule set; without one the name must be a preset. */
  #checkDefinition(request: AddResourceRequest): void {
    const { ruleSets, presets, multiWorkerRefusal } = this.#options;
    const spec = request.spec;
    if (spec) {
      if (isBuiltinTaskSpec(spec) && !ruleSets.has(spec.rule)) {
        throw new InvalidArgumentError(
          `spec.rule: unknown rule set "${spec.rule}" (built-in: ${
            [...ruleSets].sort().join(", ")
          })`,
        );
      }
      if (wantedWorkers(spec) > 1 && multiWorkerRefusal !== undefined) {
        throw new InvalidArgumentError(`spec.workers: ${multiWorkerRefusal}`);
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

/**
 * A request whose caller gave up (its call was cancelled or timed out) while it waited for the
 * mutex is not applied: the caller has been told the outcome is unknown and may have retried
 * and moved on (even deleted what it added), so applying it late could undo a later request.
 */
function throwIfAbandoned(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw new NotLeaderError("the caller gave up waiting; nothing was applied", {
      cause: signal.reason,
    });
  }
}

/** The answer to an add: the resource's first placement (the Go project's `NodeSpec`). */
function nodeOf(resource: ResourceSpec): AddResourceResponse {
  const node = parseAssignedNode(resource.AssignedNode);
  return { id: node?.workerId ?? "", Address: node?.address ?? "" };
}
