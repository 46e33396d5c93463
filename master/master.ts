/**
 * @module
 * The master: campaigns for leadership and observes the leader at all times; as leader it owns
 * the assignment of resources to workers; as follower it forwards writes to the leader.
 */
import { Mutex } from "async-mutex";
import type { Logger } from "../log/logger.ts";
import { silentLogger } from "../log/logger.ts";
import {
  addResourceBodySchema,
  type AddResourceRequest,
  type AddResourceResponse,
  deleteResourceBodySchema,
  type DeleteResourceRequest,
  type WorkerStatus,
} from "../proto/api_bodies.ts";
import {
  ELECTION_PREFIX,
  resourceKey,
  resourceNameFromKey,
  RESOURCES_PREFIX,
  workerIdFromKey,
  WORKERS_PREFIX,
} from "../proto/keys.ts";
import { parseMasterId } from "../proto/master_id.ts";
import {
  decodeResourceSpec,
  encodeResourceSpec,
  type ResourceSpec,
  unixNanos,
} from "../proto/resource_spec.ts";
import { isBuiltinTaskSpec, type TaskSpec } from "../proto/task_spec.ts";
import { decodeWorkerRegistration, type WorkerRegistration } from "../proto/worker_registration.ts";
import {
  type Campaign,
  type Election,
  GuardFailedError,
  type KeyValue,
  type Store,
  type WriteGuard,
  type WriteOptions,
} from "../store/store.ts";
import {
  ConflictError,
  InvalidArgumentError,
  NotFoundError,
  NotLeaderError,
  NoWorkerError,
} from "./errors.ts";
import type { ForwardOptions, LeaderClient } from "./leader_client.ts";
import { LeaderState, type WorkerEntry } from "./leader_state.ts";
import { Snowflake, snowflakeNodeFromMasterId } from "./snowflake.ts";
import { parseRequest } from "./validation.ts";
import { delay } from "../async/delay.ts";
import { waitFor } from "./_wait.ts";

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
  /** Delays between retries of leader duties and campaigns, in ms. Default: 100 doubling to 2000. */
  retryDelayMs?: { initial?: number; max?: number };
  logger?: Logger;
}

/** Per-request options of the write operations. */
export interface RequestOptions {
  /** Set when the request was forwarded by another master: it must not be forwarded again. */
  forwardedBy?: string;
  /** Cancels waits and the forwarded call. */
  signal?: AbortSignal;
  /** The caller's bearer token: a follower forwards it to the leader (SPEC §9). */
  token?: string;
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
 * One leadership term: from being elected until the campaign ends, or until a write guarded by
 * the term's election key is refused (`end()`), whichever comes first.
 */
class LeaderTerm {
  readonly mutex = new Mutex();
  /** Aborted when the term ends. */
  readonly signal: AbortSignal;
  readonly #ended = new AbortController();
  /** Set by the first load; replaced on reloads, always under `mutex`. */
  state: LeaderState | undefined;
  /**
   * True once this term added the missing presets. Presets are added when a master becomes
   * leader (retried until a worker can take them), not on every later change, so a preset a
   * user deleted stays deleted while this leader leads.
   */
  presetsAdded = false;
  readonly ready: Promise<void>;
  #markReady!: () => void;

  /**
   * @param campaign aborted when the candidacy (or the master) ends.
   * @param guard the won election's guard: every write made in this term passes it.
   */
  constructor(campaign: AbortSignal, readonly guard: WriteGuard) {
    this.signal = AbortSignal.any([campaign, this.#ended.signal]);
    this.ready = new Promise((resolve) => (this.#markReady = resolve));
  }

  /** Ends the term now: leadership is known to be gone, whatever the campaign knows yet. */
  end(reason: Error): void {
    if (!this.#ended.signal.aborted) this.#ended.abort(reason);
  }

  markReady(): void {
    this.#markReady();
  }
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
  readonly #election: Election;
  readonly #ruleSets: ReadonlySet<string>;
  readonly #presets: readonly string[];
  readonly #leaderClient: LeaderClient | undefined;
  readonly #requestTimeoutMs: number;
  readonly #clock: () => number;
  readonly #ids: Snowflake;
  readonly #retryInitialMs: number;
  readonly #retryMaxMs: number;
  readonly #logger: Logger;
  readonly #stop = new AbortController();
  #loops: Promise<void>[] = [];
  #campaign: Campaign | undefined;
  #term: LeaderTerm | undefined;
  #observedLeader: string | undefined;

  constructor(options: MasterOptions) {
    this.id = options.id;
    this.#store = options.store;
    this.#election = options.store.election(ELECTION_PREFIX, options.electionTtlSeconds);
    this.#ruleSets = new Set(options.ruleSets);
    this.#presets = [...new Set(options.presets ?? [])];
    this.#leaderClient = options.leaderClient;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.#clock = options.clock ?? Date.now;
    this.#ids = new Snowflake(snowflakeNodeFromMasterId(this.id), { clock: this.#clock });
    this.#retryInitialMs = options.retryDelayMs?.initial ?? 100;
    this.#retryMaxMs = options.retryDelayMs?.max ?? 2000;
    this.#logger = options.logger ?? silentLogger;
  }

  /** Starts observing the leader and campaigning. Call once. */
  start(): void {
    if (this.#loops.length > 0 || this.#stop.signal.aborted) {
      throw new Error("a master can be started only once");
    }
    // The loops handle their own failures; this catch is for bugs, which must be seen in the
    // log rather than end as unhandled rejections.
    this.#loops = [this.#observeLoop(), this.#campaignLoop()].map((loop) =>
      loop.catch((error) => this.#logger.error("master loop crashed", { error }))
    );
  }

  /** Stops acting as leader, resigns (so another master takes over at once) and ends the loops. */
  async stop(): Promise<void> {
    if (!this.#stop.signal.aborted) this.#stop.abort(new Error("master stopped"));
    if (this.#campaign) await this.#resign(this.#campaign);
    await Promise.all(this.#loops);
  }

  /** True while this master holds leadership. It turns false the moment the campaign ends. */
  get isLeader(): boolean {
    return this.#activeTerm() !== undefined;
  }

  /** The leader's id as known here (this master's own while it leads), or undefined. */
  get leaderId(): string | undefined {
    return this.isLeader ? this.id : this.#observedLeader;
  }

  /** Who leads, as this master sees it. */
  status(): MasterStatus {
    return { self: this.id, leader: this.leaderId, isLeader: this.isLeader };
  }

  /**
   * Adds a resource (SPEC §5). The leader assigns it to the least-loaded worker; a follower
   * forwards the request to the leader and returns its answer. Throws `InvalidArgumentError`,
   * `NotFoundError` (unknown preset), `ConflictError` (name taken), `NoWorkerError`, `NotLeaderError`.
   */
  async addResource(body: unknown, options: RequestOptions = {}): Promise<AddResourceResponse> {
    const request = parseRequest(addResourceBodySchema, body);
    const term = await this.#leaderTerm(options);
    if (term) return await this.#addAsLeader(term, request);
    const { client, address, forward } = this.#forwardTarget(options);
    return await client.addResource(address, request, forward);
  }

  /** Deletes a resource; `NotFoundError` when there is none of that name. Followers forward. */
  async deleteResource(body: unknown, options: RequestOptions = {}): Promise<void> {
    const request = parseRequest(deleteResourceBodySchema, body);
    const term = await this.#leaderTerm(options);
    if (term) return await this.#deleteAsLeader(term, request);
    const { client, address, forward } = this.#forwardTarget(options);
    await client.deleteResource(address, request, forward);
  }

  /**
   * Pauses (`paused` true) or resumes a resource (SPEC §9): the leader sets `Paused` in its stored
   * value, so the pause outlives worker and master restarts; its workers stop running it and keep
   * its frontier. Returns the stored resource. `NotFoundError` for an unknown name. Followers
   * forward. Setting what is already set changes nothing and answers the same.
   */
  async setPaused(
    body: unknown,
    paused: boolean,
    options: RequestOptions = {},
  ): Promise<ResourceSpec> {
    const request = parseRequest(deleteResourceBodySchema, body);
    const term = await this.#leaderTerm(options);
    if (!term) {
      const { client, address, forward } = this.#forwardTarget(options);
      return await client.setPaused(address, request, paused, forward);
    }
    return await term.mutex.runExclusive(async () => {
      const state = this.#stateOf(term);
      const current = state.resource(request.name);
      if (!current) throw new NotFoundError(`resource "${request.name}" does not exist`);
      if ((current.Paused === true) === paused) return current;
      const { Paused: _, ...rest } = current;
      const updated: ResourceSpec = paused ? { ...rest, Paused: true } : rest;
      const key = resourceKey(updated.Name);
      await this.#write(term, (o) => this.#store.put(key, encodeResourceSpec(updated), o));
      state.setResource(updated);
      this.#logger.info(paused ? "pause resource" : "resume resource", { name: updated.Name });
      return updated;
    });
  }

  /**
   * Every resource, sorted by name, read from the store: any master answers, leader or not,
   * and the store is what workers act on.
   */
  async listResources(): Promise<ResourceSpec[]> {
    const { kvs } = await this.#store.getPrefix(RESOURCES_PREFIX);
    return this.#decodeResources(kvs).sort((a, b) => compare(a.Name, b.Name));
  }

  /** The resource named `name`, read from the store; `NotFoundError` when there is none. */
  async getResource(name: string): Promise<ResourceSpec> {
    const kv = await this.#store.get(resourceKey(name));
    const resource = kv && this.#decodeResource(kv);
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
      this.#decodeWorkers(workers.kvs),
      this.#decodeResources(resources.kvs),
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

  // --- leadership -----------------------------------------------------------------------------

  async #resign(campaign: Campaign): Promise<void> {
    try {
      await campaign.resign();
    } catch (error) {
      // The lease then runs out on its own: leadership passes after its TTL instead of at once.
      this.#logger.warn("resigning failed", { error });
    }
  }

  #activeTerm(): LeaderTerm | undefined {
    const term = this.#term;
    return term && !term.signal.aborted ? term : undefined;
  }

  async #observeLoop(): Promise<void> {
    const stop = this.#stop.signal;
    for (let attempt = 0; !stop.aborted;) {
      try {
        for await (const leader of this.#election.observe({ signal: stop })) {
          attempt = 0;
          if (leader !== this.#observedLeader) {
            this.#logger.info("watch leader change", { leader: leader ?? null });
          }
          this.#observedLeader = leader;
        }
        if (stop.aborted) return;
        throw new Error("the leader observer ended");
      } catch (error) {
        if (stop.aborted) return;
        this.#logger.warn("observing the leader failed; observing again", { error });
        await this.#retryDelay(attempt++, stop);
      }
    }
  }

  async #campaignLoop(): Promise<void> {
    const stop = this.#stop.signal;
    for (let attempt = 0; !stop.aborted;) {
      const campaign = this.#election.campaign(this.id);
      this.#campaign = campaign;
      try {
        await campaign.elected;
      } catch (error) {
        if (stop.aborted) return;
        this.#logger.warn("campaign ended before it was elected; campaigning again", { error });
        await this.#retryDelay(attempt++, stop);
        continue;
      }
      attempt = 0;
      const guard = campaign.guard;
      if (!guard) throw new Error("an elected campaign has no write guard");
      const term = new LeaderTerm(AbortSignal.any([campaign.signal, stop]), guard);
      this.#term = term;
      this.#logger.info("master start change to leader", { id: this.id });
      await this.#lead(term);
      if (this.#term === term) this.#term = undefined;
      if (stop.aborted) return;
      this.#logger.warn("lost leadership; campaigning again", { reason: term.signal.reason });
      if (!campaign.signal.aborted) {
        // The term ended on a refused write while the candidacy still looks alive (its key was
        // deleted or replaced behind its back): give it up, lease and all, before standing again.
        await this.#resign(campaign);
      }
    }
  }

  /**
   * The leader's duties for one term: load workers and resources, repair assignments, add
   * missing presets, then follow the worker registry. Returns when the term ends; a store
   * failure reloads everything after a delay, as the state may have missed changes.
   */
  async #lead(term: LeaderTerm): Promise<void> {
    for (let attempt = 0; !term.signal.aborted;) {
      try {
        const revision = await this.#load(term);
        term.markReady();
        await this.#reconcile(term);
        attempt = 0;
        // Both watches end together: when one fails, the state is reloaded and both restart.
        const round = new AbortController();
        const signal = AbortSignal.any([term.signal, round.signal]);
        const watches = [
          this.#followWorkers(term, revision + 1, signal),
          this.#followResources(term, revision + 1, signal),
        ];
        try {
          await Promise.race(watches);
        } finally {
          round.abort();
          await Promise.allSettled(watches);
        }
      } catch (error) {
        if (term.signal.aborted) return;
        this.#logger.error("leader duties failed; reloading the state", { error });
        await this.#retryDelay(attempt++, term.signal);
      }
    }
  }

  /** Loads the state under the mutex; returns a revision both reads include. */
  #load(term: LeaderTerm): Promise<number> {
    return term.mutex.runExclusive(async () => {
      const workers = await this.#store.getPrefix(WORKERS_PREFIX);
      const resources = await this.#store.getPrefix(RESOURCES_PREFIX);
      this.#throwIfEnded(term);
      const state = new LeaderState(
        this.#decodeWorkers(workers.kvs),
        this.#decodeResources(resources.kvs),
      );
      term.state = state;
      this.#logger.info("leader init load resource", {
        workers: state.workerCount,
        resources: state.resourceCount,
      });
      // Watching both prefixes from the first read's revision may replay a change the second
      // read already saw; applying a change twice is harmless, missing one is not.
      return workers.revision;
    });
  }

  /**
   * Reassigns every resource whose worker is gone, then (once per term) adds the presets that
   * are missing.
   * Each step takes the mutex for one write only, so requests are served in between.
   * Resources whose worker is alive are never touched: a task runs on one worker at a time.
   */
  async #reconcile(term: LeaderTerm): Promise<void> {
    const orphans = await term.mutex.runExclusive(() => this.#stateOf(term).orphans());
    for (const orphan of orphans) {
      const moved = await term.mutex.runExclusive(async () => {
        this.#throwIfEnded(term);
        const state = this.#stateOf(term);
        const current = state.resource(orphan.Name);
        if (!current || !state.isOrphan(current)) return true; // changed while we waited
        const worker = state.leastLoadedWorker();
        if (!worker) return false;
        const updated = { ...current, AssignedNode: LeaderState.assignedNodeOf(worker) };
        await this.#write(
          term,
          (options) =>
            this.#store.put(resourceKey(current.Name), encodeResourceSpec(updated), options),
        );
        state.setResource(updated);
        this.#logger.info("reassign resource", {
          name: current.Name,
          from: current.AssignedNode,
          to: updated.AssignedNode,
        });
        return true;
      });
      if (!moved) break; // no worker to move it to: the next worker to join triggers this again
    }
    if (term.presetsAdded) return;
    for (const name of this.#presets) {
      const done = await term.mutex.runExclusive(async () => {
        this.#throwIfEnded(term);
        const state = this.#stateOf(term);
        if (state.resource(name)) return true;
        const worker = state.leastLoadedWorker();
        if (!worker) return false;
        const created = await this.#createResource(term, name, undefined, worker);
        if (created) this.#logger.info("add preset resource", { name, to: created.AssignedNode });
        return true;
      });
      if (!done) return; // no worker yet: the first worker to join triggers this again
    }
    term.presetsAdded = true;
  }

  /** Follows worker joins and departures from `fromRevision` until the term ends. */
  async #followWorkers(term: LeaderTerm, fromRevision: number, signal: AbortSignal): Promise<void> {
    const events = this.#store.watchPrefix(WORKERS_PREFIX, { fromRevision, signal });
    for await (const event of events) {
      const id = workerIdFromKey(event.key);
      if (id === undefined) continue;
      await term.mutex.runExclusive(() => {
        const state = this.#stateOf(term);
        if (event.type === "put") {
          const registration = this.#decodeWorker(id, event.kv.value);
          if (registration && state.putWorker(registration)) {
            this.#logger.info("worker joined", { id, address: registration.address });
          }
        } else if (state.removeWorker(id)) {
          this.#logger.info("worker left", { id });
        }
      });
      await this.#reconcile(term);
    }
    this.#throwIfEnded(term);
    throw new Error("the worker watch ended");
  }

  /**
   * Follows `/resources/` so the leader's view stays the store's: a resource written by
   * anything else (an operator, a previous leader's late write) is taken into account, and
   * one assigned to a worker that is gone is reassigned.
   */
  async #followResources(
    term: LeaderTerm,
    fromRevision: number,
    signal: AbortSignal,
  ): Promise<void> {
    const events = this.#store.watchPrefix(RESOURCES_PREFIX, { fromRevision, signal });
    for await (const event of events) {
      const changed = await term.mutex.runExclusive(() => {
        const state = this.#stateOf(term);
        if (event.type === "delete") {
          const name = resourceNameFromKey(event.key);
          const known = name === undefined ? undefined : state.resource(name);
          const gone = event.prevKv ? this.#decodeResource(event.prevKv) : undefined;
          // An echo of an older resource of the same name must not remove the newer one.
          if (known && (!gone || gone.ID === known.ID)) state.removeResource(known.Name);
          return false;
        }
        const resource = this.#decodeResource(event.kv);
        if (!resource) return false;
        const known = state.resource(resource.Name);
        if (known && isOlderId(resource.ID, known.ID)) return false;
        if (known && known.AssignedNode === resource.AssignedNode && known.ID === resource.ID) {
          return false;
        }
        state.setResource(resource);
        return state.isOrphan(resource);
      });
      if (changed) await this.#reconcile(term);
    }
    this.#throwIfEnded(term);
    throw new Error("the resource watch ended");
  }

  /**
   * The term to act in when this master leads (waiting for its state to load); undefined when
   * another master leads and the request should be forwarded.
   */
  async #leaderTerm(options: RequestOptions): Promise<LeaderTerm | undefined> {
    let term = this.#activeTerm();
    if (!term && this.#observedLeader === this.id) {
      // The observer saw our election before the campaign reported it: wait for the term
      // rather than fail a request this master is about to be able to serve.
      term = await this.#awaitOwnTerm(options.signal);
    }
    if (!term) return undefined;
    const signal = options.signal ? AbortSignal.any([options.signal, term.signal]) : term.signal;
    try {
      await waitFor(term.ready, {
        timeoutMs: this.#requestTimeoutMs,
        signal,
        onTimeout: () => new NotLeaderError("the leader is still loading its state; retry"),
      });
    } catch (error) {
      if (term.signal.aborted) {
        throw new NotLeaderError("leadership changed while the request waited; retry", {
          cause: error,
        });
      }
      throw error;
    }
    return term;
  }

  async #awaitOwnTerm(signal: AbortSignal | undefined): Promise<LeaderTerm | undefined> {
    const deadline = Date.now() + Math.min(this.#requestTimeoutMs, 3000);
    while (Date.now() < deadline) {
      const term = this.#activeTerm();
      if (term || this.#observedLeader !== this.id) return term;
      await delay(20, { signal });
    }
    throw new NotLeaderError("leadership is changing; retry");
  }

  // --- writes as leader -------------------------------------------------------------------------

  async #addAsLeader(term: LeaderTerm, request: AddResourceRequest): Promise<AddResourceResponse> {
    this.#checkDefinition(request);
    return await term.mutex.runExclusive(async () => {
      this.#throwIfEnded(term);
      const state = this.#stateOf(term);
      if (state.resource(request.name)) {
        throw new ConflictError(`resource "${request.name}" already exists`);
      }
      const worker = state.leastLoadedWorker();
      if (!worker) throw new NoWorkerError();
      const created = await this.#createResource(term, request.name, request.spec, worker);
      if (!created) throw new ConflictError(`resource "${request.name}" already exists`);
      this.#logger.info("add resource", {
        name: created.Name,
        id: created.ID,
        to: created.AssignedNode,
      });
      return { id: worker.id, Address: worker.address };
    });
  }

  async #deleteAsLeader(term: LeaderTerm, request: DeleteResourceRequest): Promise<void> {
    await term.mutex.runExclusive(async () => {
      this.#throwIfEnded(term);
      const state = this.#stateOf(term);
      if (!state.resource(request.name)) {
        throw new NotFoundError(`resource "${request.name}" does not exist`);
      }
      await this.#write(term, (options) => this.#store.delete(resourceKey(request.name), options));
      state.removeResource(request.name);
      this.#logger.info("delete resource", { name: request.name });
    });
  }

  /**
   * Writes a new resource with put-if-absent, so two masters that both believe they lead can
   * never both add it; records it only once the store has it. Undefined when the key existed
   * (its value is taken into the state instead).
   */
  async #createResource(
    term: LeaderTerm,
    name: string,
    spec: TaskSpec | undefined,
    worker: WorkerEntry,
  ): Promise<ResourceSpec | undefined> {
    const state = this.#stateOf(term);
    const resource: ResourceSpec = {
      ID: this.#ids.next(),
      Name: name,
      AssignedNode: LeaderState.assignedNodeOf(worker),
      CreationTime: unixNanos(this.#clock()),
      ...(spec ? { Spec: spec } : {}),
    };
    const key = resourceKey(name);
    const value = encodeResourceSpec(resource);
    if (await this.#write(term, (options) => this.#store.create(key, value, options))) {
      state.setResource(resource);
      return resource;
    }
    const existing = await this.#store.get(key);
    const decoded = existing && this.#decodeResource(existing);
    if (decoded) state.setResource(decoded);
    return undefined;
  }

  /** A spec must name a built-in rule set; without one the name must be a preset. */
  #checkDefinition(request: AddResourceRequest): void {
    const spec = request.spec;
    if (spec) {
      if (isBuiltinTaskSpec(spec) && !this.#ruleSets.has(spec.rule)) {
        throw new InvalidArgumentError(
          `spec.rule: unknown rule set "${spec.rule}" (built-in: ${
            [...this.#ruleSets].sort().join(", ")
          })`,
        );
      }
      return;
    }
    if (!this.#ruleSets.has(request.name) && !this.#presets.includes(request.name)) {
      throw new NotFoundError(
        `unknown task "${request.name}": not a built-in rule set or a preset in the config; ` +
          `send a "spec" to define it`,
      );
    }
  }

  /**
   * Makes a store write as leader of `term`, guarded by the term's election key, so it is
   * applied only while that key still makes this master leader. A refused guard means
   * leadership is gone (the key expired or was deleted, say during a pause, before the
   * campaign noticed): the term ends at once — nothing more is written as leader, and the
   * campaign loop stands again — and the caller gets `NotLeaderError`.
   */
  async #write<T>(term: LeaderTerm, write: (options: WriteOptions) => Promise<T>): Promise<T> {
    try {
      return await write({ guard: term.guard });
    } catch (error) {
      if (!(error instanceof GuardFailedError)) throw error;
      this.#logger.warn("a write as leader was refused: leadership lost", { error });
      term.end(error);
      throw new NotLeaderError("leadership lost; retry", { cause: error });
    }
  }

  // --- forwarding -------------------------------------------------------------------------------

  /** Where and how to forward a write; throws when it must not or cannot be forwarded. */
  #forwardTarget(
    options: RequestOptions,
  ): { client: LeaderClient; address: string; forward: ForwardOptions } {
    const leader = this.#observedLeader;
    if (options.forwardedBy !== undefined) {
      // Loop guard: a forwarded request reached a master that does not lead (leadership moved
      // while it travelled). Forwarding it again could bounce it around; the caller retries.
      throw new NotLeaderError(
        `master ${this.id} is not the leader (leader: ${leader ?? "none"}); ` +
          `a request forwarded by ${options.forwardedBy} is not forwarded again; retry`,
      );
    }
    if (leader === undefined) throw new NotLeaderError("no leader is elected yet; retry");
    const address = parseMasterId(leader)?.address;
    if (!address) throw new NotLeaderError(`the leader id "${leader}" has no address`);
    const client = this.#leaderClient;
    if (!client) throw new NotLeaderError(`this master cannot forward to the leader ${leader}`);
    this.#logger.debug("forward request to leader", { leader });
    return {
      client,
      address,
      forward: {
        timeoutMs: this.#requestTimeoutMs,
        forwardedBy: this.id,
        signal: options.signal,
        token: options.token,
      },
    };
  }

  // --- helpers ----------------------------------------------------------------------------------

  #stateOf(term: LeaderTerm): LeaderState {
    this.#throwIfEnded(term);
    if (!term.state) throw new NotLeaderError("the leader is still loading its state; retry");
    return term.state;
  }

  #throwIfEnded(term: LeaderTerm): void {
    if (term.signal.aborted) {
      throw new NotLeaderError("this master lost leadership; retry", { cause: term.signal.reason });
    }
  }

  #decodeWorkers(kvs: readonly KeyValue[]): WorkerRegistration[] {
    const workers: WorkerRegistration[] = [];
    for (const kv of kvs) {
      const id = workerIdFromKey(kv.key);
      const registration = id === undefined ? undefined : this.#decodeWorker(id, kv.value);
      if (registration) workers.push(registration);
    }
    return workers;
  }

  /** The key names the worker: it is what vanishes with the lease, so it decides liveness. */
  #decodeWorker(id: string, value: string): WorkerRegistration | undefined {
    try {
      const registration = decodeWorkerRegistration(value);
      if (registration.id !== id) {
        this.#logger.warn("worker registration id differs from its key; using the key", {
          key: id,
          id: registration.id,
        });
      }
      return { ...registration, id };
    } catch (error) {
      this.#logger.warn("ignoring a malformed worker registration", { id, error });
      return undefined;
    }
  }

  #decodeResources(kvs: readonly KeyValue[]): ResourceSpec[] {
    return kvs.map((kv) => this.#decodeResource(kv)).filter((r) => r !== undefined);
  }

  /** The key names the resource: a value whose `Name` differs is taken under the key's name. */
  #decodeResource(kv: KeyValue): ResourceSpec | undefined {
    try {
      const resource = decodeResourceSpec(kv.value);
      const name = resourceNameFromKey(kv.key);
      if (name === undefined || name === resource.Name) return resource;
      this.#logger.warn("resource Name differs from its key; using the key", {
        key: kv.key,
        name: resource.Name,
      });
      return { ...resource, Name: name };
    } catch (error) {
      this.#logger.warn("ignoring a malformed resource", { key: kv.key, error });
      return undefined;
    }
  }

  async #retryDelay(attempt: number, signal: AbortSignal): Promise<void> {
    const base = Math.min(this.#retryMaxMs, this.#retryInitialMs * 2 ** Math.min(attempt, 20));
    await delay(base / 2 + Math.random() * (base / 2), { signal }).catch(() => undefined);
  }
}

/** Plain string order, the same on every master (no locale). */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Snowflake ids grow with time: a smaller id is an older resource. */
function isOlderId(id: string, than: string): boolean {
  try {
    return BigInt(id) < BigInt(than);
  } catch {
    return false;
  }
}
