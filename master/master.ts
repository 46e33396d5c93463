/**
 * @module
 * The master ({@linkcode Master}): the one object the APIs talk to. It wires the parts of the
 * role together — the campaign loop (`campaigner.ts`), the leader's duties for each term
 * (`leader_duties.ts`) and its writes (`leader_writes.ts`), and forwarding to the leader
 * (`leader_forwarder.ts`) — and answers reads from the store.
 */
import type { Logger } from "../log/logger.ts";
import { silentLogger } from "../log/logger.ts";
import {
  addResourceBodySchema,
  type AddResourceResponse,
  deleteResourceBodySchema,
  type WorkerStatus,
} from "../proto/api_bodies.ts";
import {
  IDEMPOTENCY_KEY_HEADER,
  idempotencyKeySchema,
  newIdempotencyKey,
} from "../proto/idempotency.ts";
import { ELECTION_PREFIX, resourceKey, RESOURCES_PREFIX, WORKERS_PREFIX } from "../proto/keys.ts";
import type { ResourceSpec } from "../proto/resource_spec.ts";
import { wantedWorkers } from "../proto/task_spec.ts";
import { backoffMs } from "../async/backoff.ts";
import { delay } from "../async/delay.ts";
import type { Store } from "../store/store.ts";
import { Campaigner } from "./campaigner.ts";
import { errorReply, InvalidArgumentError, NotFoundError, NotLeaderError } from "../errors/mod.ts";
export type { RebalanceOptions } from "./leader_duties.ts";
import type { LeaderClient } from "./leader_client.ts";
import { LeaderDuties, type RebalanceOptions } from "./leader_duties.ts";
import { LeaderForwarder } from "./leader_forwarder.ts";
import { LeaderState } from "./leader_state.ts";
import { LeaderWrites } from "./leader_writes.ts";
import { Snowflake, snowflakeNodeFromMasterId } from "./snowflake.ts";
import { StateDecoder } from "./state_decoder.ts";
import { parseRequest } from "./validation.ts";
import { waitFor } from "./_wait.ts";
import type { RetryDelays } from "./_retry_delay.ts";

/** The longest wait between two tries of a write waiting for a leader, ms. */
const WRITE_RETRY_MAX_MS = 1000;

/** Options for {@linkcode Master}. */
export interface MasterOptions {
  /** The coordination store (etcd, or the embedded one in `dev`). */
  store: Store;
  /** This master's id, `master<id>-<host>:<grpcPort>` (see `proto/master_id.ts`). */
  id: string;
  /** TTL of the election lease, in seconds (the config's `MasterServer.ElectionTTL`). */
  electionTtlSeconds: number;
  /** Names of the built-in rule sets: a name or `spec.rule` may refer to them. */
  ruleSets: Iterable<string>;
  /** The config's `Tasks` names: the leader keeps them present as resources. Default: none. */
  presets?: Iterable<string>;
  /** Reaches the leader for forwarded writes. Default: none (followers answer 503). */
  leaderClient?: LeaderClient;
  /** Deadline of a forwarded call and of waits for the leader, in ms. Default: 10000. */
  requestTimeoutMs?: number;
  /** Milliseconds since the epoch, for ids and `CreationTime`. Default: `Date.now`. */
  clock?: () => number;
  /**
   * Delays between retries of leader duties and campaigns, in ms, jittered. Default: 100 doubling
   * to 2000. A write waiting for a leader is tried again with the same delays, capped at 1000
   * (its caller is waiting).
   */
  retryDelayMs?: { initial?: number; max?: number };
  /** Workers each preset wants (the config's `Tasks[].Workers`); unlisted presets want 1. */
  presetWorkers?: ReadonlyMap<string, number>;
  /**
   * Why a task may not run on several workers (the config's frontier is not shared), or
   * undefined when it may. An add with `spec.workers > 1` is then a 400 with this reason.
   */
  multiWorkerRefusal?: string;
  /** How long a vanished worker keeps its tasks before they move, ms. Default 3000. */
  workerGraceMs?: number;
  /** How the leader evens out the loads. Default: on, every 2 s, 10 moves, threshold 1. */
  rebalance?: RebalanceOptions;
  /**
   * How long the leader remembers a write's idempotency key, ms (`MasterServer.IdempotencyWindow`).
   * Default 600000 (10 min).
   */
  idempotencyWindowMs?: number;
  logger?: Logger;
}

/** Per-request options of the write operations. */
export interface RequestOptions {
  /** Set when the request was forwarded by another master: it must not be forwarded again. */
  forwardedBy?: string;
  /** Cancels waits and the forwarded call. */
  signal?: AbortSignal;
  /**
   * The caller's bearer token: a follower forwards it to the leader (docs/operating.md, "Auth").
   */
  token?: string;
  /**
   * The write's idempotency key (`Idempotency-Key`, gRPC `idempotency-key`): a write repeated
   * with it within the window answers what the first answered. Default: none; the master then
   * gives the write a key of its own for the tries it makes itself, so it is still judged once.
   */
  idempotencyKey?: string;
}

/** Who leads, as this master sees it. */
export interface MasterStatus {
  self: string;
  /** The leader's master id, or undefined while none is known. */
  leader: string | undefined;
  /** True while this master holds leadership. */
  isLeader: boolean;
}

/**
 * A master of the cluster. Call `start()` once; `stop()` resigns and ends its loops.
 *
 * @example
 * ```ts
 * const master = new Master({ store, id: "master1-127.0.0.1:9091", electionTtlSeconds: 10,
 *   ruleSets: builtinRuleSets().keys(), presets: ["douban_book_list"] });
 * master.start();
 * await master.addResource({ name: "douban_book_list" }); // on the leader, or forwarded to it
 * await master.stop();
 * ```
 */
export class Master {
  readonly id: string;
  readonly #store: Store;
  readonly #decoder: StateDecoder;
  readonly #campaigner: Campaigner;
  readonly #writes: LeaderWrites;
  readonly #forwarder: LeaderForwarder;
  readonly #requestTimeoutMs: number;
  /** The waits of a write tried again while no leader answers (see `#untilAnswered`). */
  readonly #writeRetry: RetryDelays;

  constructor(options: MasterOptions) {
    this.id = options.id;
    this.#store = options.store;
    const logger = options.logger ?? silentLogger;
    const clock = options.clock ?? Date.now;
    const requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    const presets = [...new Set(options.presets ?? [])];
    const retry = {
      initialMs: options.retryDelayMs?.initial ?? 100,
      maxMs: options.retryDelayMs?.max ?? 2000,
    };
    this.#requestTimeoutMs = requestTimeoutMs;
    this.#writeRetry = { ...retry, maxMs: Math.min(retry.maxMs, WRITE_RETRY_MAX_MS) };
    const presetWorkers = options.presetWorkers ?? new Map<string, number>();
    const wanted = (resource: ResourceSpec) =>
      resource.Spec ? wantedWorkers(resource.Spec) : presetWorkers.get(resource.Name) ?? 1;
    this.#decoder = new StateDecoder(logger);
    this.#writes = new LeaderWrites({
      store: this.#store,
      ids: new Snowflake(snowflakeNodeFromMasterId(this.id), { clock }),
      clock,
      ruleSets: new Set(options.ruleSets),
      presets,
      multiWorkerRefusal: options.multiWorkerRefusal,
      idempotencyWindowMs: options.idempotencyWindowMs,
      decoder: this.#decoder,
      logger,
    });
    const duties = new LeaderDuties({
      store: this.#store,
      writes: this.#writes,
      decoder: this.#decoder,
      presets,
      wanted,
      graceMs: options.workerGraceMs,
      rebalance: options.rebalance,
      clock,
      retry,
      logger,
    });
    this.#campaigner = new Campaigner({
      id: this.id,
      election: options.store.election(ELECTION_PREFIX, options.electionTtlSeconds),
      lead: (term) => duties.lead(term),
      requestTimeoutMs,
      retry,
      logger,
    });
    this.#forwarder = new LeaderForwarder({
      self: this.id,
      leader: () => this.#campaigner.observedLeader,
      client: options.leaderClient,
      timeoutMs: requestTimeoutMs,
      logger,
    });
  }

  /** Starts observing the leader and campaigning. Call once. */
  start(): void {
    this.#campaigner.start();
  }

  /** Stops acting as leader, resigns (so another master takes over at once) and ends the loops. */
  async stop(): Promise<void> {
    await this.#campaigner.stop();
  }

  /** True while this master holds leadership. It turns false the moment the campaign ends. */
  get isLeader(): boolean {
    return this.#campaigner.activeTerm() !== undefined;
  }

  /** The leader's id as known here (this master's own while it leads), or undefined. */
  get leaderId(): string | undefined {
    return this.isLeader ? this.id : this.#campaigner.observedLeader;
  }

  /** Who leads, as this master sees it. */
  status(): MasterStatus {
    return { self: this.id, leader: this.leaderId, isLeader: this.isLeader };
  }

  /**
   * Adds a resource (docs/http-api.md). The leader places it on the least-loaded workers; a
   * follower forwards the request to the leader and returns its answer. Throws
   * `InvalidArgumentError`, `NotFoundError` (unknown preset), `ConflictError` (name taken, whatever
   * the body's `id`), `IdempotencyKeyReusedError`, `NoWorkerError`, `NotLeaderError`.
   *
   * While no leader answers, the request is tried again until the request deadline with the same
   * idempotency key (the caller's, else one given here), so an attempt that was applied but not
   * answered is answered as it was rather than applied twice or refused as a conflict.
   */
  async addResource(body: unknown, options: RequestOptions = {}): Promise<AddResourceResponse> {
    const request = parseRequest(addResourceBodySchema, body);
    const write = { ...options, idempotencyKey: idempotencyKeyOf(options) };
    return await this.#untilAnswered(write, async (timeoutMs) => {
      const term = await this.#campaigner.leaderTerm(options.signal);
      if (term) return await this.#writes.add(term, request, write);
      return await this.#forwarder.addResource(request, { ...write, timeoutMs });
    });
  }

  /**
   * Deletes a resource; `NotFoundError` when there is none of that name. Followers forward;
   * tried again, with one idempotency key, as `addResource` is.
   */
  async deleteResource(body: unknown, options: RequestOptions = {}): Promise<void> {
    const request = parseRequest(deleteResourceBodySchema, body);
    const write = { ...options, idempotencyKey: idempotencyKeyOf(options) };
    await this.#untilAnswered(write, async (timeoutMs) => {
      const term = await this.#campaigner.leaderTerm(options.signal);
      if (term) return await this.#writes.delete(term, request, write);
      await this.#forwarder.deleteResource(request, { ...write, timeoutMs });
    });
  }

  /**
   * Runs `attempt` until it is answered: a `NotLeaderError` (no leader yet, leadership moving,
   * the leader did not answer) is tried again after a short wait until the request deadline.
   * A request forwarded to this master is not: the forwarding master does that.
   */
  async #untilAnswered<T>(
    options: RequestOptions,
    attempt: (timeoutMs: number) => Promise<T>,
  ): Promise<T> {
    const deadline = Date.now() + this.#requestTimeoutMs;
    for (let n = 0;; n++) {
      try {
        return await attempt(Math.max(1, deadline - Date.now()));
      } catch (error) {
        const signal = options.signal;
        if (signal?.aborted && errorReply(error).kind === undefined) {
          // The caller cancelled while this master waited (for the leader, or between tries):
          // an expected end, answered as the typed "unknown outcome" rather than logged as a bug.
          throw new NotLeaderError("the caller gave up waiting; nothing was applied", {
            cause: error,
          });
        }
        const wait = backoffMs(n, this.#writeRetry);
        const retriable = error instanceof NotLeaderError && options.forwardedBy === undefined &&
          !signal?.aborted && Date.now() + wait < deadline;
        if (!retriable) throw error;
        await delay(wait, { signal }).catch(() => undefined);
        if (signal?.aborted) throw error;
      }
    }
  }

  /**
   * Pauses (`paused` true) or resumes a resource (docs/http-api.md, "Pause and resume"): the leader
   * sets `Paused` in its stored value, so the pause outlives worker and master restarts; its
   * workers stop running it and keep its frontier. Returns the stored resource. `NotFoundError` for
   * an unknown name. Followers forward. Setting what is already set changes nothing and answers the
   * same. Idempotency keys work as for `addResource`.
   */
  async setPaused(
    body: unknown,
    paused: boolean,
    options: RequestOptions = {},
  ): Promise<ResourceSpec> {
    const request = parseRequest(deleteResourceBodySchema, body);
    const write = { ...options, idempotencyKey: idempotencyKeyOf(options) };
    return await this.#untilAnswered(write, async (timeoutMs) => {
      const term = await this.#campaigner.leaderTerm(options.signal);
      if (term) return await this.#writes.setPaused(term, { name: request.name, paused }, write);
      return await this.#forwarder.setPaused(request, paused, { ...write, timeoutMs });
    });
  }

  /**
   * Every resource, sorted by name, read from the store: any master answers, leader or not,
   * and the store is what workers act on.
   */
  async listResources(): Promise<ResourceSpec[]> {
    const { kvs } = await this.#store.getPrefix(RESOURCES_PREFIX);
    return this.#decoder.resources(kvs).sort((a, b) => compare(a.Name, b.Name));
  }

  /** The resource named `name`, read from the store; `NotFoundError` when there is none. */
  async getResource(name: string): Promise<ResourceSpec> {
    const kv = await this.#store.get(resourceKey(name));
    const resource = kv && this.#decoder.resource(kv);
    if (!resource) throw new NotFoundError(`resource "${name}" does not exist`);
    return resource;
  }

  /** The registered workers with their payloads, sorted by id, read from the store. */
  async listWorkers(): Promise<WorkerStatus[]> {
    const [workers, resources] = await Promise.all([
      this.#store.getPrefix(WORKERS_PREFIX),
      this.#store.getPrefix(RESOURCES_PREFIX),
    ]);
    const state = new LeaderState(
      this.#decoder.workers(workers.kvs),
      this.#decoder.resources(resources.kvs),
    );
    return state.workers().map((w) => ({
      id: w.id,
      address: w.address,
      httpAddress: w.registration.httpAddress,
      startTime: w.registration.startTime,
      payload: w.payload,
    }));
  }

  /**
   * Resolves when this master can serve: the store answers and a leader is known. Throws
   * `NotLeaderError` or the store's error otherwise.
   */
  async checkReady(options: { timeoutMs?: number } = {}): Promise<void> {
    await waitFor(this.#store.get(ELECTION_PREFIX), {
      timeoutMs: options.timeoutMs ?? 2000,
      onTimeout: () => new NotLeaderError("the coordination store did not answer in time"),
    });
    if (this.leaderId === undefined) throw new NotLeaderError("no leader is elected yet");
  }
}

/**
 * The idempotency key a write is made with: the caller's (checked: a bad one is a 400), else a
 * new one for the tries this master makes itself; none for a request forwarded without one (the
 * master that forwarded it does the trying).
 */
function idempotencyKeyOf(options: RequestOptions): string | undefined {
  const key = options.idempotencyKey;
  if (key === undefined) return options.forwardedBy === undefined ? newIdempotencyKey() : undefined;
  const checked = idempotencyKeySchema.safeParse(key);
  if (!checked.success) {
    throw new InvalidArgumentError(
      `${IDEMPOTENCY_KEY_HEADER}: ${checked.error.issues[0]?.message ?? "not valid"}`,
    );
  }
  return checked.data;
}

/** Plain string order, the same on every master (no locale). */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
