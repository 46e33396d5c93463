/**
 * @module
 * The host store of one process: politeness shared by the tasks of a worker with a memory
 * frontier (and by unit tests).
 */
import {
  type ClaimResult,
  claimSlot,
  DEFAULT_HOST_POLICY,
  dropOwnSlots,
  type HostLimits,
  type HostOutcome,
  type HostPolicy,
  type HostState,
  newHostState,
  newSlotId,
  releaseSlot,
} from "./host_state.ts";
import type { HostSnapshot, HostStore, RobotsRecord } from "./host_store.ts";
import { snapshotOf } from "./_snapshot.ts";

/** Options shared by every host store. */
export interface HostStoreOptions {
  /** Backoff bounds and slot lease; defaults as in `DEFAULT_HOST_POLICY`. */
  policy?: Partial<HostPolicy>;
  /** The clock, epoch ms. Default `Date.now`. */
  now?: () => number;
  /**
   * The worker claiming through this store: its slot ids carry it, and `releaseOwn` frees them
   * after a restart. Default: none (slots carry no owner).
   */
  owner?: string;
}

/** Hosts' state in a map; every call completes synchronously, so each is atomic. */
export class MemoryHostStore implements HostStore {
  readonly #hosts = new Map<string, HostState>();
  readonly #robots = new Map<string, RobotsRecord>();
  readonly #policy: HostPolicy;
  readonly #now: () => number;
  readonly #owner: string | undefined;

  constructor(options: HostStoreOptions = {}) {
    this.#policy = { ...DEFAULT_HOST_POLICY, ...options.policy };
    this.#now = options.now ?? Date.now;
    this.#owner = options.owner;
  }

  claim(host: string, limits: HostLimits): Promise<ClaimResult> {
    const state = this.#state(host);
    return Promise.resolve(
      claimSlot(state, limits, this.#now(), this.#policy, newSlotId(this.#owner)),
    );
  }

  release(
    host: string,
    slotId: string,
    outcome: HostOutcome,
    limits: HostLimits,
  ): Promise<HostSnapshot> {
    const state = this.#state(host);
    const now = this.#now();
    releaseSlot(state, slotId, outcome, limits, now, this.#policy);
    return Promise.resolve(snapshotOf(state, now));
  }

  addDisallowed(host: string, count: number): Promise<void> {
    this.#state(host).disallowed += count;
    return Promise.resolve();
  }

  releaseOwn(): Promise<number> {
    let freed = 0;
    const owner = this.#owner;
    if (owner !== undefined) {
      for (const state of this.#hosts.values()) freed += dropOwnSlots(state, owner);
    }
    return Promise.resolve(freed);
  }

  robots(host: string): Promise<RobotsRecord | undefined> {
    return Promise.resolve(this.#robots.get(host));
  }

  saveRobots(host: string, record: RobotsRecord): Promise<void> {
    this.#robots.set(host, { ...record });
    return Promise.resolve();
  }

  snapshot(hosts?: readonly string[]): Promise<HostSnapshot[]> {
    const now = this.#now();
    const states = hosts
      ? hosts.flatMap((h) => this.#hosts.get(h) ?? [])
      : [...this.#hosts.values()].sort((a, b) => a.host < b.host ? -1 : 1);
    return Promise.resolve(states.map((state) => snapshotOf(state, now)));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  #state(host: string): HostState {
    let state = this.#hosts.get(host);
    if (!state) this.#hosts.set(host, state = newHostState(host));
    return state;
  }
}
