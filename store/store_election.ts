/**
 * @module
 * Leader election on top of any {@linkcode Store}: etcd's concurrency/election recipe written
 * against the store's primitives, so the etcd and the embedded store elect the same way.
 */

import { backoffDelay, type BackoffPolicy } from "./_backoff.ts";
import { delay } from "../async/delay.ts";
import { StoreUnavailableError } from "../errors/mod.ts";
import {
  type Campaign,
  type Election,
  type KeyValue,
  type Lease,
  LeaseLostError,
  type Store,
  WatchCompactedError,
  type WatchEvent,
  type WriteGuard,
} from "./store.ts";
import type { StoreLogger } from "./store.ts";

/** Options for {@linkcode StoreElection}. */
export interface StoreElectionOptions {
  /** Retry timing when the store is unavailable. Default: 50 ms doubling to 1 s. */
  backoff?: BackoffPolicy;
  /** Where retried errors are reported. Default: `console`. */
  logger?: StoreLogger;
  /**
   * Aborted when the store closes: campaigns end and observers return.
   * Default: never (they end with their own signals).
   */
  closed?: AbortSignal;
}

/**
 * An election over `prefix`, following etcd's recipe (`client/v3/concurrency/election.go`):
 * each candidate puts `<prefix>/<lease id in hex>` on its own lease; the candidate whose key has
 * the lowest create revision is the leader; the others wait until every older key is deleted.
 * Keys are compatible with etcd's Go election (`etcdctl elect` sees the same leader).
 */
export class StoreElection implements Election {
  readonly prefix: string;
  readonly #logger: StoreLogger;
  readonly #backoff: BackoffPolicy;
  readonly #closed: AbortSignal | undefined;

  constructor(
    readonly store: Store,
    prefix: string,
    readonly ttlSeconds: number,
    options: StoreElectionOptions = {},
  ) {
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) {
      throw new RangeError(`election TTL must be a whole number of seconds >= 1: ${ttlSeconds}`);
    }
    // etcd's Go election appends "/" to the name it is given; doing the same keeps key layouts
    // identical, and keeps "/a/election" from matching "/a/election2/...".
    this.prefix = prefix.endsWith("/") ? prefix : `${prefix}/`;
    this.#logger = options.logger ?? console;
    this.#backoff = options.backoff ?? {};
    this.#closed = options.closed;
  }

  campaign(value: string): Campaign {
    return new StoreCampaign(this, value, this.#backoff, this.#logger, this.#closed);
  }

  async leader(): Promise<string | undefined> {
    const { kvs } = await this.store.getPrefix(this.prefix);
    return oldest(kvs)?.value;
  }

  /**
   * Yields the leader now and after every change, computed from the election's key events in
   * revision order, so no intermediate leader is skipped. The store's watch resumes by itself
   * across reconnects; when it cannot (compaction) or a read fails, the leader is read again.
   */
  async *observe(options: { signal?: AbortSignal } = {}): AsyncGenerator<string | undefined> {
    const signal = anySignal([options.signal, this.#closed]);
    let last: { value: string | undefined } | undefined;
    let attempt = 0;
    while (!signal.aborted) {
      try {
        const { kvs, revision } = await this.store.getPrefix(this.prefix);
        const candidates = new Map(kvs.map((kv) => [kv.key, kv]));
        attempt = 0;
        const current = oldest(candidates.values())?.value;
        if (!last || last.value !== current) {
          last = { value: current };
          yield current;
        }
        for await (
          const event of this.store.watchPrefix(this.prefix, { fromRevision: revision + 1, signal })
        ) {
          applyEvent(candidates, event);
          const next = oldest(candidates.values())?.value;
          if (last.value !== next) {
            last = { value: next };
            yield next;
          }
        }
        return; // the watch ended: aborted or the store closed
      } catch (error) {
        if (signal.aborted) return;
        if (!(error instanceof WatchCompactedError || error instanceof StoreUnavailableError)) {
          throw error;
        }
        this.#logger.warn(`election observer on ${this.prefix}: reading the leader again`, {
          error: error,
        });
        await delay(backoffDelay(this.#backoff, attempt++), { signal }).catch(() => undefined);
      }
    }
  }
}

/** One candidacy: owns a lease, its key under the election prefix, and the wait to be elected. */
class StoreCampaign implements Campaign {
  readonly elected: Promise<void>;
  readonly signal: AbortSignal;
  readonly #controller = new AbortController();
  readonly #closed: AbortSignal | undefined;
  readonly #onClosed = () => this.#end(new Error("store closed"));
  readonly #run: Promise<void>;
  #lease: Lease | undefined;
  #guard: WriteGuard | undefined;

  constructor(
    readonly election: StoreElection,
    readonly value: string,
    readonly backoff: BackoffPolicy,
    readonly logger: StoreLogger,
    closed: AbortSignal | undefined,
  ) {
    this.signal = this.#controller.signal;
    this.#closed = closed;
    if (closed?.aborted) this.#onClosed();
    else closed?.addEventListener("abort", this.#onClosed, { once: true });
    this.#run = this.#campaign().catch(async (error) => {
      // Whatever ended the candidacy, its key must not linger: a live key would be elected
      // later with nobody acting as leader.
      this.#end(error instanceof Error ? error : new Error(String(error)));
      await this.#revokeLease();
      throw error;
    });
    this.elected = this.#run;
    // `elected` is often not awaited by followers that only watch `signal`; marking it handled
    // keeps a lost candidacy from becoming an unhandled rejection. Awaiting it still throws.
    this.elected.catch(() => undefined);
  }

  get guard(): WriteGuard | undefined {
    return this.#guard;
  }

  async resign(): Promise<void> {
    this.#end(new Error("campaign resigned"));
    await this.#run.catch(() => undefined);
    // Revoking the lease deletes our key: that deletion is what hands leadership over.
    await this.#revokeLease();
  }

  #end(reason: Error): void {
    this.#closed?.removeEventListener("abort", this.#onClosed);
    if (!this.signal.aborted) this.#controller.abort(reason);
  }

  async #revokeLease(): Promise<void> {
    try {
      await this.#lease?.revoke();
    } catch (error) {
      // Not fatal: the key still goes when the lease's TTL runs out, as no one keeps it alive.
      this.logger.warn(`campaign on ${this.election.prefix}: revoking its lease failed`, {
        error: error,
      });
    }
  }

  async #campaign(): Promise<void> {
    const { store, prefix, ttlSeconds } = this.election;
    const lease = await this.#retry(() => store.grantLease(ttlSeconds));
    this.#lease = lease;
    this.#throwIfEnded();
    const onLeaseLost = () => {
      this.#end(lease.signal.reason);
      // Lost here may mean only "not kept alive in time": etcd may still hold the lease and
      // our key, which would block the next leader until it expires. We abandon it, so revoke.
      void this.#revokeLease();
    };
    if (lease.signal.aborted) onLeaseLost();
    lease.signal.addEventListener("abort", onLeaseLost, { once: true });
    const key = `${prefix}${BigInt(lease.id).toString(16)}`;
    await this.#retry(() => lease.put(key, this.value));
    let attempt = 0;
    while (true) {
      this.#throwIfEnded();
      try {
        const createRevision = await this.#waitForOlderKeys(key);
        if (createRevision !== undefined) {
          // Set before `elected` resolves, so whoever awaits it finds the guard there.
          this.#guard = { key, createRevision };
          return;
        }
        attempt = 0;
      } catch (error) {
        if (!(error instanceof WatchCompactedError || error instanceof StoreUnavailableError)) {
          throw error;
        }
        this.#throwIfEnded();
        this.logger.warn(`campaign on ${prefix}: retrying after store error`, { error });
        await delay(backoffDelay(this.backoff, attempt++), { signal: this.signal }).catch(() =>
          undefined
        );
      }
    }
  }

  /**
   * Our key's create revision once no key older than ours is left (we lead); undefined when
   * the watch ended early.
   */
  async #waitForOlderKeys(key: string): Promise<number | undefined> {
    const { store, prefix } = this.election;
    const { kvs, revision } = await store.getPrefix(prefix);
    // Our create revision comes from the read, not from our put: a put retried after its
    // connection broke may have been applied twice, and only the first made the key.
    const own = kvs.find((kv) => kv.key === key);
    if (!own) {
      this.#end(new LeaseLostError(`election key ${key} was deleted`));
      throw this.signal.reason;
    }
    const createRevision = own.createRevision;
    const older = new Set(
      kvs.filter((kv) => kv.createRevision < createRevision).map((kv) => kv.key),
    );
    if (older.size === 0) return createRevision;
    const watch = store.watchPrefix(prefix, { fromRevision: revision + 1, signal: this.signal });
    for await (const event of watch) {
      if (event.type !== "delete") continue;
      if (event.key === key) this.#end(new LeaseLostError(`election key ${key} was deleted`));
      this.#throwIfEnded();
      older.delete(event.key);
      if (older.size === 0) return createRevision;
    }
    return undefined;
  }

  async #retry<T>(operation: () => Promise<T>): Promise<T> {
    for (let attempt = 0;; attempt++) {
      this.#throwIfEnded();
      try {
        return await operation();
      } catch (error) {
        if (!(error instanceof StoreUnavailableError)) throw error;
        this.logger.warn(`campaign on ${this.election.prefix}: retrying after store error`, {
          error: error,
        });
        await delay(backoffDelay(this.backoff, attempt), { signal: this.signal }).catch(() =>
          undefined
        );
      }
    }
  }

  #throwIfEnded(): void {
    if (this.signal.aborted) throw this.signal.reason;
  }
}

/** The key with the lowest create revision: the leader in etcd's recipe. */
function oldest(kvs: Iterable<KeyValue>): KeyValue | undefined {
  let best: KeyValue | undefined;
  for (const kv of kvs) {
    if (!best || kv.createRevision < best.createRevision) best = kv;
  }
  return best;
}

function applyEvent(candidates: Map<string, KeyValue>, event: WatchEvent): void {
  if (event.type === "put") candidates.set(event.key, event.kv);
  else candidates.delete(event.key);
}

/** An AbortSignal that aborts when any of `signals` does (and never when there are none). */
function anySignal(signals: Array<AbortSignal | undefined>): AbortSignal {
  const present = signals.filter((signal): signal is AbortSignal => signal !== undefined);
  return present.length === 0 ? new AbortController().signal : AbortSignal.any(present);
}
