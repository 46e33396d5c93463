/**
 * @module
 * What the leader does for one term ({@linkcode LeaderDuties}): load workers and resources,
 * follow both prefixes, give a worker that vanished a grace period, repair placements whose
 * worker is gone (or that lack workers), add missing presets, even out the loads, and prune
 * expired idempotency records.
 */
import { delay } from "../async/delay.ts";
import type { Logger } from "../log/logger.ts";
import {
  resourceNameFromKey,
  RESOURCES_PREFIX,
  workerIdFromKey,
  WORKERS_PREFIX,
} from "../proto/keys.ts";
import { placementsOf, type ResourceSpec } from "../proto/resource_spec.ts";
import type { Store } from "../store/store.ts";
import { LeaderState } from "./leader_state.ts";
import type { LeaderTerm } from "./leader_term.ts";
import type { LeaderWrites } from "./leader_writes.ts";
import { retryDelay, type RetryDelays } from "./_retry_delay.ts";
import type { StateDecoder } from "./state_decoder.ts";

/** How the leader evens out the loads (the config's `MasterServer.Rebalance*` keys). */
export interface RebalanceOptions {
  /** Default true. */
  enabled?: boolean;
  /** Time between rounds, ms. Default 2000. */
  intervalMs?: number;
  /** Most placements moved per round. Default 10. */
  maxMoves?: number;
  /** A round starts only when loads differ by more than this (or a worker joined). Default 1. */
  threshold?: number;
}

/** Options for {@linkcode LeaderDuties}. */
export interface LeaderDutiesOptions {
  store: Store;
  writes: LeaderWrites;
  decoder: StateDecoder;
  /** The config's `Tasks` names, kept present as resources. */
  presets: readonly string[];
  /** How many workers a resource wants (its spec's `workers`, a preset's `Workers`). */
  wanted: (resource: ResourceSpec) => number;
  /** How long a vanished worker keeps its placements, ms. Default 3000; 0 moves them at once. */
  graceMs?: number;
  rebalance?: RebalanceOptions;
  /** Milliseconds since the epoch. Default `Date.now`. */
  clock?: () => number;
  retry: RetryDelays;
  logger: Logger;
}

/** How often the leader checks grace periods and rebalancing, ms. */
const TICK_MS = 100;
/** How often expired idempotency records are pruned at most, ms (more often for short windows). */
const PRUNE_INTERVAL_MS = 30_000;

/** The leader's duties; `lead(term)` runs them until the term ends. */
export class LeaderDuties {
  readonly #options: LeaderDutiesOptions;
  readonly #logger: Logger;
  readonly #clock: () => number;
  readonly #graceMs: number;
  readonly #rebalance: Required<RebalanceOptions>;

  constructor(options: LeaderDutiesOptions) {
    this.#options = options;
    this.#logger = options.logger;
    this.#clock = options.clock ?? Date.now;
    this.#graceMs = options.graceMs ?? 3000;
    this.#rebalance = {
      enabled: options.rebalance?.enabled ?? true,
      intervalMs: options.rebalance?.intervalMs ?? 2000,
      maxMoves: options.rebalance?.maxMoves ?? 10,
      threshold: options.rebalance?.threshold ?? 1,
    };
  }

  /**
   * The leader's duties for one term: load workers and resources, start following both
   * prefixes, and only then repair placements and add missing presets, so every decision is
   * made on a view that keeps up with the store. Returns when the term ends; a store failure
   * reloads everything after a delay, as the state may have missed changes.
   */
  async lead(term: LeaderTerm): Promise<void> {
    for (let attempt = 0; term.active;) {
      try {
        const revision = await this.#load(term);
        term.markReady();
        // The watches and the ticker end together: when one fails, the state is reloaded.
        const round = new AbortController();
        const signal = AbortSignal.any([term.signal, round.signal]);
        const loops = [
          this.#followWorkers(term, revision + 1, signal),
          this.#followResources(term, revision + 1, signal),
          this.#tick(term, signal),
        ];
        try {
          await Promise.race([this.reconcile(term).then(() => new Promise(() => {})), ...loops]);
        } finally {
          round.abort();
          await Promise.allSettled(loops);
        }
        attempt = 0;
      } catch (error) {
        if (!term.active) return;
        this.#logger.error("leader duties failed; reloading the state", { error });
        await retryDelay(attempt++, this.#options.retry, term.signal);
      }
    }
  }

  /** Loads the state under the mutex; returns a revision both reads include. */
  #load(term: LeaderTerm): Promise<number> {
    const { store, decoder, wanted } = this.#options;
    return term.mutex.runExclusive(async () => {
      const workers = await store.getPrefix(WORKERS_PREFIX);
      const resources = await store.getPrefix(RESOURCES_PREFIX);
      term.throwIfEnded();
      const state = new LeaderState(
        decoder.workers(workers.kvs),
        decoder.resources(resources.kvs),
        { wanted },
      );
      // A worker missing from this snapshot may be registering again right now (after an etcd
      // restart every worker does): its tasks wait out the grace period like a departure's.
      const waiting = this.#graceMs > 0 ? state.graceUnregistered(this.#now() + this.#graceMs) : [];
      term.state = state;
      this.#logger.info("leader init load resource", {
        workers: state.workerCount,
        resources: state.resourceCount,
        ...(waiting.length > 0 ? { graceFor: waiting } : {}),
      });
      // Watching both prefixes from the first read's revision may replay a change the second
      // read already saw; applying a change twice is harmless, missing one is not.
      return workers.revision;
    });
  }

  /**
   * Places every resource whose placements must change (a worker gone past its grace, fewer
   * placements than it wants while a worker could take one), then (once per term) adds the
   * presets that are missing. Each step takes the mutex for one write only, so requests are
   * served in between. Placements on live workers are never touched here (only rebalancing
   * moves them).
   */
  async reconcile(term: LeaderTerm): Promise<void> {
    const { writes } = this.#options;
    const names = await term.mutex.runExclusive(() =>
      term.stateOrThrow().orphans().map((r) => r.Name)
    );
    for (const name of names) {
      await term.mutex.runExclusive(async () => {
        const state = term.stateOrThrow();
        const current = state.resource(name);
        const planned = current && state.placementPlan(current);
        if (!current || !planned) return; // changed while we waited
        await writes.replace(term, planned);
        this.#logger.info("reassign resource", {
          name,
          from: current.AssignedNode,
          to: planned.AssignedNode,
          ...(placementsOf(planned).length > 1 ? { placements: placementsOf(planned) } : {}),
        });
      });
    }
    if (term.presetsAdded) return;
    for (const name of this.#options.presets) {
      const done = await term.mutex.runExclusive(async () => {
        const state = term.stateOrThrow();
        if (state.resource(name)) return true;
        if (state.workerCount === 0) return false;
        const created = await writes.create(term, { name });
        if (created) this.#logger.info("add preset resource", { name, to: created.AssignedNode });
        return true;
      });
      if (!done) return; // no worker yet: the first worker to join triggers this again
    }
    term.presetsAdded = true;
  }

  /**
   * One rebalancing round: when a worker joined or returned, or the loads differ by more than
   * the threshold, moves up to `maxMoves` placements, one write at a time, until the loads are
   * within one of each other.
   */
  async #rebalanceRound(term: LeaderTerm): Promise<void> {
    const { threshold, maxMoves } = this.#rebalance;
    const due = await term.mutex.runExclusive(() =>
      term.rebalanceWanted || term.stateOrThrow().spread() > threshold
    );
    if (!due) return;
    for (let moves = 0; moves < maxMoves; moves++) {
      const moved = await term.mutex.runExclusive(async () => {
        const state = term.stateOrThrow();
        const move = state.nextMove();
        if (!move) return false;
        await this.#options.writes.replace(term, move.resource);
        this.#logger.info("rebalance resource", {
          name: move.resource.Name,
          from: move.from,
          to: move.to,
        });
        return true;
      });
      if (!moved) {
        // Settled (or waiting for the view to settle: a grace period, an unplaced resource).
        term.rebalanceWanted = await term.mutex.runExclusive(() =>
          term.stateOrThrow().departedWorkers().length > 0
        );
        return;
      }
    }
  }

  /**
   * Ends grace periods, places what waits for a worker taken in by a write, rebalances and
   * prunes idempotency records on their schedules.
   */
  async #tick(term: LeaderTerm, signal: AbortSignal): Promise<void> {
    const { writes } = this.#options;
    const pruneEveryMs = Math.min(PRUNE_INTERVAL_MS, writes.idempotencyWindowMs);
    let lastRebalance = this.#now();
    let lastPrune = 0;
    while (!signal.aborted) {
      await delay(TICK_MS, { signal }).catch(() => undefined);
      if (signal.aborted) break;
      const expired = await term.mutex.runExclusive(() =>
        term.stateOrThrow().expireGrace(this.#now())
      );
      if (expired.length > 0) {
        this.#logger.info("worker grace period over; moving its tasks", { workers: expired });
      }
      if (expired.length > 0 || term.reconcileWanted) {
        term.reconcileWanted = false;
        await this.reconcile(term);
      }
      const now = this.#now();
      if (this.#rebalance.enabled && now - lastRebalance >= this.#rebalance.intervalMs) {
        lastRebalance = now;
        await this.#rebalanceRound(term);
      }
      if (now - lastPrune >= pruneEveryMs) {
        lastPrune = now;
        await writes.pruneIdempotencyRecords(term).catch((error) => {
          if (term.active) this.#logger.warn("pruning idempotency records failed", { error });
        });
      }
    }
    term.throwIfEnded();
  }

  /** Follows worker joins and departures from `fromRevision` until the term ends. */
  async #followWorkers(term: LeaderTerm, fromRevision: number, signal: AbortSignal): Promise<void> {
    const { store, decoder } = this.#options;
    const events = store.watchPrefix(WORKERS_PREFIX, { fromRevision, signal });
    for await (const event of events) {
      const id = workerIdFromKey(event.key);
      if (id === undefined) continue;
      const joined = await term.mutex.runExclusive(() => {
        const state = term.stateOrThrow();
        if (event.type === "put") {
          const registration = decoder.worker(id, event.kv.value);
          if (registration && state.putWorker(registration)) {
            this.#logger.info("worker joined", { id, address: registration.address });
            term.rebalanceWanted = true;
            return true;
          }
        } else {
          const graceUntil = this.#graceMs > 0 ? this.#now() + this.#graceMs : undefined;
          if (state.removeWorker(id, graceUntil)) {
            this.#logger.info("worker left", { id, graceMs: this.#graceMs });
          }
        }
        return false;
      });
      // A departure changes nothing until its grace ends (the ticker handles that); a join may
      // give waiting resources a worker.
      if (joined || this.#graceMs === 0) await this.reconcile(term);
    }
    term.throwIfEnded();
    throw new Error("the worker watch ended");
  }

  /**
   * Follows `/resources/` so the leader's view stays the store's: a resource written by
   * anything else (an operator, a previous leader's late write) is taken into account, and
   * one placed on a worker that is gone is placed again.
   */
  async #followResources(
    term: LeaderTerm,
    fromRevision: number,
    signal: AbortSignal,
  ): Promise<void> {
    const { store, decoder } = this.#options;
    const events = store.watchPrefix(RESOURCES_PREFIX, { fromRevision, signal });
    for await (const event of events) {
      const changed = await term.mutex.runExclusive(() => {
        const state = term.stateOrThrow();
        if (event.type === "delete") {
          const name = resourceNameFromKey(event.key);
          const known = name === undefined ? undefined : state.resource(name);
          const gone = event.prevKv ? decoder.resource(event.prevKv) : undefined;
          // An echo of an older resource of the same name must not remove the newer one.
          if (known && (!gone || gone.ID === known.ID)) state.removeResource(known.Name);
          return false;
        }
        const resource = decoder.resource(event.kv);
        if (!resource) return false;
        const known = state.resource(resource.Name);
        if (known && isOlderId(resource.ID, known.ID)) return false;
        if (known && event.kv.value === JSON.stringify(known)) return false;
        state.setResource(resource);
        return state.isOrphan(resource);
      });
      if (changed) await this.reconcile(term);
    }
    term.throwIfEnded();
    throw new Error("the resource watch ended");
  }

  #now(): number {
    return this.#clock();
  }
}

/** Snowflake ids grow with time: a smaller id is an older resource. */
function isOlderId(id: string, than: string): boolean {
  try {
    return BigInt(id) < BigInt(than);
  } catch {
    return false;
  }
}
