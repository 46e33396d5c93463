/**
 * @module
 * What the leader does for one term ({@linkcode LeaderDuties}): load workers and resources,
 * follow both prefixes, repair assignments whose worker is gone, and add missing presets.
 */
import type { Logger } from "../log/logger.ts";
import {
  resourceNameFromKey,
  RESOURCES_PREFIX,
  workerIdFromKey,
  WORKERS_PREFIX,
} from "../proto/keys.ts";
import type { Store } from "../store/store.ts";
import { LeaderState } from "./leader_state.ts";
import type { LeaderTerm } from "./leader_term.ts";
import type { LeaderWrites } from "./leader_writes.ts";
import { retryDelay, type RetryDelays } from "./_retry_delay.ts";
import type { StateDecoder } from "./state_decoder.ts";

/** Options for {@linkcode LeaderDuties}. */
export interface LeaderDutiesOptions {
  store: Store;
  writes: LeaderWrites;
  decoder: StateDecoder;
  /** The config's `Tasks` names, kept present as resources. */
  presets: readonly string[];
  retry: RetryDelays;
  logger: Logger;
}

/** The leader's duties; `lead(term)` runs them until the term ends. */
export class LeaderDuties {
  readonly #options: LeaderDutiesOptions;
  readonly #logger: Logger;

  constructor(options: LeaderDutiesOptions) {
    this.#options = options;
    this.#logger = options.logger;
  }

  /**
   * The leader's duties for one term: load workers and resources, repair assignments, add
   * missing presets, then follow the worker registry. Returns when the term ends; a store
   * failure reloads everything after a delay, as the state may have missed changes.
   */
  async lead(term: LeaderTerm): Promise<void> {
    for (let attempt = 0; term.active;) {
      try {
        const revision = await this.#load(term);
        term.markReady();
        await this.reconcile(term);
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
        if (!term.active) return;
        this.#logger.error("leader duties failed; reloading the state", { error });
        await retryDelay(attempt++, this.#options.retry, term.signal);
      }
    }
  }

  /** Loads the state under the mutex; returns a revision both reads include. */
  #load(term: LeaderTerm): Promise<number> {
    const { store, decoder } = this.#options;
    return term.mutex.runExclusive(async () => {
      const workers = await store.getPrefix(WORKERS_PREFIX);
      const resources = await store.getPrefix(RESOURCES_PREFIX);
      term.throwIfEnded();
      const state = new LeaderState(decoder.workers(workers.kvs), decoder.resources(resources.kvs));
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
  async reconcile(term: LeaderTerm): Promise<void> {
    const { writes } = this.#options;
    const orphans = await term.mutex.runExclusive(() => term.stateOrThrow().orphans());
    for (const orphan of orphans) {
      const moved = await term.mutex.runExclusive(async () => {
        const state = term.stateOrThrow();
        const current = state.resource(orphan.Name);
        if (!current || !state.isOrphan(current)) return true; // changed while we waited
        const worker = state.leastLoadedWorker();
        if (!worker) return false;
        const updated = { ...current, AssignedNode: LeaderState.assignedNodeOf(worker) };
        await writes.replace(term, updated);
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
    for (const name of this.#options.presets) {
      const done = await term.mutex.runExclusive(async () => {
        const state = term.stateOrThrow();
        if (state.resource(name)) return true;
        const worker = state.leastLoadedWorker();
        if (!worker) return false;
        const created = await writes.create(term, name, undefined, worker);
        if (created) this.#logger.info("add preset resource", { name, to: created.AssignedNode });
        return true;
      });
      if (!done) return; // no worker yet: the first worker to join triggers this again
    }
    term.presetsAdded = true;
  }

  /** Follows worker joins and departures from `fromRevision` until the term ends. */
  async #followWorkers(term: LeaderTerm, fromRevision: number, signal: AbortSignal): Promise<void> {
    const { store, decoder } = this.#options;
    const events = store.watchPrefix(WORKERS_PREFIX, { fromRevision, signal });
    for await (const event of events) {
      const id = workerIdFromKey(event.key);
      if (id === undefined) continue;
      await term.mutex.runExclusive(() => {
        const state = term.stateOrThrow();
        if (event.type === "put") {
          const registration = decoder.worker(id, event.kv.value);
          if (registration && state.putWorker(registration)) {
            this.#logger.info("worker joined", { id, address: registration.address });
          }
        } else if (state.removeWorker(id)) {
          this.#logger.info("worker left", { id });
        }
      });
      await this.reconcile(term);
    }
    term.throwIfEnded();
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
        if (known && known.AssignedNode === resource.AssignedNode && known.ID === resource.ID) {
          return false;
        }
        state.setResource(resource);
        return state.isOrphan(resource);
      });
      if (changed) await this.reconcile(term);
    }
    term.throwIfEnded();
    throw new Error("the resource watch ended");
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
