/**
 * @module
 * The leader's writes to `/resources/` ({@linkcode LeaderWrites}): add, delete, pause, create
 * and replace a resource. Each runs under the term's mutex, checks the term's state, writes
 * guarded by the term's election key, and records the change in the state only once the store
 * has it.
 *
 * Every write is judged on its own (an existing name is a conflict, a missing one not found)
 * unless it carries an idempotency key: then what it answered is recorded at
 * `/crawler/idempotency/<key>`, in the same transaction as the change it made, and a write
 * repeated with that key within the window is answered the same, whoever leads by then.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import type { Logger } from "../log/logger.ts";
import type {
  AddResourceRequest,
  AddResourceResponse,
  DeleteResourceRequest,
} from "../proto/api_bodies.ts";
import { parseAssignedNode } from "../proto/assigned_node.ts";
import {
  decodeIdempotencyRecord,
  encodeIdempotencyRecord,
  type IdempotencyRecord,
} from "../proto/idempotency.ts";
import {
  IDEMPOTENCY_PREFIX,
  idempotencyRecordKey,
  resourceKey,
  WORKERS_PREFIX,
} from "../proto/keys.ts";
import {
  encodeResourceSpec,
  placementsOf,
  type ResourceSpec,
  resourceSpecSchema,
  unixNanos,
} from "../proto/resource_spec.ts";
import { isBuiltinTaskSpec, type TaskSpec, wantedWorkers } from "../proto/task_spec.ts";
import type { KeyValue, KeyValueToPut, Store } from "../store/store.ts";
import {
  ConflictError,
  errorOfKind,
  errorReply,
  IdempotencyKeyReusedError,
  InvalidArgumentError,
  NotFoundError,
  NotLeaderError,
  NoWorkerError,
} from "../errors/mod.ts";
import type { LeaderState } from "./leader_state.ts";
import type { LeaderTerm } from "./leader_term.ts";
import type { Snowflake } from "./snowflake.ts";
import type { StateDecoder } from "./state_decoder.ts";

/** How long an idempotency key is remembered by default, ms (10 min). */
export const DEFAULT_IDEMPOTENCY_WINDOW_MS = 600_000;

/** Options for {@linkcode LeaderWrites}. */
export interface LeaderWritesOptions {
  store: Store;
  /** Gives new resources their ids. */
  ids: Snowflake;
  /** Milliseconds since the epoch, for `CreationTime` and idempotency records. */
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
  /**
   * How long a write's idempotency key is remembered, ms (`MasterServer.IdempotencyWindow`).
   * Default {@linkcode DEFAULT_IDEMPOTENCY_WINDOW_MS}.
   */
  idempotencyWindowMs?: number;
  decoder: StateDecoder;
  logger: Logger;
}

/** Per-request options of a write. */
export interface WriteRequestOptions {
  /**
   * Aborted when the caller gave up: a write still waiting for the mutex is then not applied
   * (see {@linkcode throwIfAbandoned}).
   */
  signal?: AbortSignal;
  /** The write's idempotency key (already checked). Default: none, the write stands alone. */
  idempotencyKey?: string;
}

/** What a new resource is made of. */
export interface NewResource {
  name: string;
  spec?: TaskSpec;
}

/** Options of {@linkcode LeaderWrites.create}. */
export interface CreateOptions {
  /** Keys to write in the same transaction as the resource, given the resource as placed. */
  alsoPut?: (resource: ResourceSpec) => KeyValueToPut[];
}

/** A pause (`paused` true) or a resume of the resource `name`. */
export interface PauseRequest {
  name: string;
  paused: boolean;
}

/** The operations an idempotency key may name; part of the write's fingerprint. */
type Operation = "add" | "delete" | "pause" | "resume";

/**
 * How a keyed write hands its answer to be recorded: the key and value to put beside the
 * change, in the same transaction.
 */
type RecordAnswer<T> = (answer: T) => KeyValueToPut;

const addAnswerSchema = z.object({ id: z.string(), Address: z.string() });
/** A delete answers `{}`, as the HTTP API does. */
const deleteAnswerSchema = z.object({}).strict();

/** The leader's resource writes. */
export class LeaderWrites {
  readonly #options: LeaderWritesOptions;
  readonly #logger: Logger;
  readonly #windowMs: number;

  constructor(options: LeaderWritesOptions) {
    this.#options = options;
    this.#logger = options.logger;
    this.#windowMs = options.idempotencyWindowMs ?? DEFAULT_IDEMPOTENCY_WINDOW_MS;
  }

  /** How long idempotency records are kept, ms. */
  get idempotencyWindowMs(): number {
    return this.#windowMs;
  }

  /**
   * Adds a resource on the least-loaded workers (docs/http-api.md; docs/operating.md, "Crawl with
   * several workers"). A name that exists is a `ConflictError`, whatever `id` the request carries
   * (the leader gives every resource its own snowflake id, as the Go project did).
   */
  async add(
    term: LeaderTerm,
    request: AddResourceRequest,
    options: WriteRequestOptions = {},
  ): Promise<AddResourceResponse> {
    this.#checkDefinition(request);
    return await term.mutex.runExclusive(async () => {
      throwIfAbandoned(options.signal);
      return await this.#once(term, "add", request, addAnswerSchema, options, async (record) => {
        const state = term.stateOrThrow();
        if (state.resource(request.name)) {
          throw new ConflictError(`resource "${request.name}" already exists`);
        }
        const created = await this.create(term, { name: request.name, spec: request.spec }, {
          alsoPut: record && ((resource) => [record(nodeOf(resource))]),
        });
        if (!created) throw new ConflictError(`resource "${request.name}" already exists`);
        this.#logger.info("add resource", {
          name: created.Name,
          id: created.ID,
          to: created.AssignedNode,
          ...(created.Placements ? { placements: created.Placements } : {}),
        });
        return nodeOf(created);
      });
    });
  }

  /** Deletes a resource; `NotFoundError` when there is none of that name. */
  async delete(
    term: LeaderTerm,
    request: DeleteResourceRequest,
    options: WriteRequestOptions = {},
  ): Promise<void> {
    const { store } = this.#options;
    await term.mutex.runExclusive(async () => {
      throwIfAbandoned(options.signal);
      await this.#once(term, "delete", request, deleteAnswerSchema, options, async (record) => {
        const state = term.stateOrThrow();
        const name = request.name;
        if (!state.resource(name)) throw new NotFoundError(`resource "${name}" does not exist`);
        const alsoPut = record ? [record({})] : [];
        await term.write((o) => store.delete(resourceKey(name), { ...o, alsoPut }), {
          applied:
            async () => ((await store.get(resourceKey(name))) === undefined ? true : undefined),
        });
        state.removeResource(name);
        this.#logger.info("delete resource", { name });
        return {};
      });
    });
  }

  /**
   * Sets or clears `Paused` on a resource (docs/http-api.md, "Pause and resume"); returns the
   * stored resource. Setting what is already set changes nothing. `NotFoundError` for an unknown
   * name.
   */
  async setPaused(
    term: LeaderTerm,
    request: PauseRequest,
    options: WriteRequestOptions = {},
  ): Promise<ResourceSpec> {
    const { store } = this.#options;
    const { name, paused } = request;
    const operation = paused ? "pause" : "resume";
    return await term.mutex.runExclusive(async () => {
      throwIfAbandoned(options.signal);
      return await this.#once(
        term,
        operation,
        { name },
        resourceSpecSchema,
        options,
        async (record) => {
          const state = term.stateOrThrow();
          const current = state.resource(name);
          if (!current) throw new NotFoundError(`resource "${name}" does not exist`);
          if ((current.Paused === true) === paused) {
            if (record) {
              const { key, value } = record(current);
              await term.write((o) => store.put(key, value, o));
            }
            return current;
          }
          const { Paused: _, ...rest } = current;
          const updated: ResourceSpec = paused ? { ...rest, Paused: true } : rest;
          const alsoPut = record ? [record(updated)] : [];
          await term.write((o) =>
            store.put(resourceKey(name), encodeResourceSpec(updated), { ...o, alsoPut })
          );
          state.setResource(updated);
          this.#logger.info(paused ? "pause resource" : "resume resource", { name });
          return updated;
        },
      );
    });
  }

  /**
   * Writes a new resource, placed on the least-loaded workers it wants, with put-if-absent, so
   * two masters that both believe they lead can never both add it; records it only once the
   * store has it. Undefined when the key existed (its value is taken into the state instead).
   * Throws `NoWorkerError` when no worker can take it, also after reading the registry again.
   * Call under the term's mutex.
   */
  async create(
    term: LeaderTerm,
    fields: NewResource,
    options: CreateOptions = {},
  ): Promise<ResourceSpec | undefined> {
    const { store, ids, clock, decoder } = this.#options;
    const state = term.stateOrThrow();
    const draft: ResourceSpec = {
      ID: ids.next(),
      Name: fields.name,
      AssignedNode: "",
      CreationTime: unixNanos(clock()),
      ...(fields.spec ? { Spec: fields.spec } : {}),
    };
    let resource = state.placementPlan(draft);
    if (!resource || placementsOf(resource).length === 0) {
      await this.#catchUpRegistry(term, state);
      resource = state.placementPlan(draft);
    }
    if (!resource || placementsOf(resource).length === 0) throw new NoWorkerError();
    const placed = resource;
    const key = resourceKey(fields.name);
    const value = encodeResourceSpec(placed);
    const alsoPut = options.alsoPut?.(placed) ?? [];
    const created = await term.write((o) => store.create(key, value, { ...o, alsoPut }), {
      applied: async () => ((await store.get(key))?.value === value ? true : undefined),
    });
    if (created) {
      state.setResource(placed);
      return placed;
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

  /**
   * Deletes idempotency records older than the window (and malformed ones), so they stay
   * bounded by the writes of one window. Each is read again and deleted under the mutex: a
   * write may have given its key a new record since the first read.
   */
  async pruneIdempotencyRecords(term: LeaderTerm): Promise<number> {
    const { store } = this.#options;
    const { kvs } = await store.getPrefix(IDEMPOTENCY_PREFIX);
    let pruned = 0;
    for (const { key } of kvs.filter((kv) => !this.#isLiveValue(kv))) {
      const deleted = await term.mutex.runExclusive(async () => {
        const kv = await store.get(key);
        if (!kv || this.#isLiveValue(kv)) return false;
        return await term.write((options) => store.delete(key, options));
      });
      if (deleted) pruned++;
    }
    return pruned;
  }

  /**
   * Runs `apply` once per idempotency key. Without a key it just runs. With one, a record of the
   * same write within the window is answered as recorded (a refusal thrown again, an answer
   * returned), a record of another write is an `IdempotencyKeyReusedError`, and otherwise
   * `apply` decides: it writes the record of its answer with its change (through `record`), and
   * a refusal it makes (409, 404) is recorded on its own. A 503 is not recorded: the write was
   * not made and the client retries. Call under the term's mutex.
   */
  async #once<T>(
    term: LeaderTerm,
    operation: Operation,
    body: unknown,
    answerSchema: z.ZodType<T>,
    options: WriteRequestOptions,
    apply: (record: RecordAnswer<T> | undefined) => Promise<T>,
  ): Promise<T> {
    const key = options.idempotencyKey;
    if (key === undefined) return await apply(undefined);
    const { store, clock } = this.#options;
    const fingerprint = fingerprintOf(operation, body);
    const recorded = await this.#record(key);
    term.throwIfEnded();
    if (recorded) {
      if (recorded.Fingerprint !== fingerprint) {
        throw new IdempotencyKeyReusedError(
          `idempotency key "${key}" was used for a different request in the last ` +
            `${formatWindow(this.#windowMs)}; send a new key with a new request`,
        );
      }
      this.#logger.info("repeated request answered as recorded", { operation, key });
      const outcome = recorded.Outcome;
      if ("Error" in outcome) {
        throw errorOfKind(outcome.Error.Kind, outcome.Error.Message) ??
          new Error(`idempotency record of "${key}" has an unknown error kind`);
      }
      return answerSchema.parse(outcome.Answer);
    }
    const entry = (outcome: IdempotencyRecord["Outcome"]): KeyValueToPut => ({
      key: idempotencyRecordKey(key),
      value: encodeIdempotencyRecord({
        Fingerprint: fingerprint,
        CreatedAt: clock(),
        Outcome: outcome,
      }),
    });
    try {
      return await apply((answer) => entry({ Answer: answer }));
    } catch (error) {
      const { kind, message } = errorReply(error);
      if (
        kind !== undefined && (error instanceof ConflictError || error instanceof NotFoundError)
      ) {
        const refusal = entry({ Error: { Kind: kind, Message: message } });
        await term.write((o) => store.put(refusal.key, refusal.value, o));
      }
      throw error;
    }
  }

  /** The live record of idempotency key `key`, or undefined (none, expired or malformed). */
  async #record(key: string): Promise<IdempotencyRecord | undefined> {
    const kv = await this.#options.store.get(idempotencyRecordKey(key));
    if (!kv) return undefined;
    try {
      const record = decodeIdempotencyRecord(kv.value);
      return this.#isLive(record) ? record : undefined;
    } catch (error) {
      this.#logger.warn("ignoring a malformed idempotency record", { key, error });
      return undefined;
    }
  }

  #isLive(record: IdempotencyRecord): boolean {
    return this.#options.clock() - record.CreatedAt < this.#windowMs;
  }

  /** Whether the stored record `kv` is live; a malformed one is not (it is pruned). */
  #isLiveValue(kv: KeyValue): boolean {
    try {
      return this.#isLive(decodeIdempotencyRecord(kv.value));
    } catch (error) {
      this.#logger.warn("pruning a malformed idempotency record", { key: kv.key, error });
      return false;
    }
  }

  /**
   * Takes into the state the workers the registry lists that it lacks. The state learns of a
   * registration through the leader's watch, which trails the store: right after an election,
   * or right after workers registered, a write could find no worker while the registry (and
   * `GET /crawler/workers`) lists some. The read comes after the mutex was taken, so it is at
   * least as new as every event the state holds, and a worker it lists is live. Call under the
   * term's mutex.
   */
  async #catchUpRegistry(term: LeaderTerm, state: LeaderState): Promise<void> {
    const { store, decoder } = this.#options;
    const { kvs } = await store.getPrefix(WORKERS_PREFIX);
    term.throwIfEnded();
    for (const registration of decoder.workers(kvs)) {
      if (!state.putWorker(registration)) continue;
      this.#logger.info("worker joined (read from the registry ahead of its watch event)", {
        id: registration.id,
        address: registration.address,
      });
      // What a join through the watch would have triggered: its event will find it known.
      term.rebalanceWanted = true;
      term.reconcileWanted = true;
    }
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

/**
 * SHA-256 (hex) of a write: its operation and its parsed body, with object keys sorted, so the
 * same write has the same fingerprint however its JSON was ordered or whichever master it came
 * through. An empty `id` counts as none (gRPC cannot tell them apart).
 */
export function fingerprintOf(operation: string, body: unknown): string {
  const canonical = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(canonical);
    if (value === null || typeof value !== "object") return value;
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => [k, canonical(v)]);
    return Object.fromEntries(entries);
  };
  const normalized =
    body !== null && typeof body === "object" && (body as { id?: unknown }).id === ""
      ? { ...body, id: undefined }
      : body;
  return createHash("sha256").update(JSON.stringify([operation, canonical(normalized)])).digest(
    "hex",
  );
}

/** A window in the unit that reads best: "10 min", "90 s". */
function formatWindow(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000} min` : `${Math.round(ms / 1000)} s`;
}
