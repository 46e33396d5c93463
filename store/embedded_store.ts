/**
 * @module
 * `EmbeddedStore`: the coordination store in-process, with etcd's semantics (one global
 * revision, create/mod revisions, watches with previous values replayable from a revision,
 * leases, the election recipe), persisted to a JSON file for `crawler dev`.
 */

import { AsyncQueue } from "./_async_queue.ts";
import { loadSnapshot, type Snapshot, SnapshotFile } from "./_snapshot_file.ts";
import { type Clock, systemClock } from "../async/clock.ts";
import { StoreElection } from "./store_election.ts";
import { checkWriteGuard } from "./_write_guard.ts";
import {
  type Election,
  GuardFailedError,
  type KeyValue,
  type Lease,
  LeaseLostError,
  type LeaseOptions,
  type RangeResult,
  type Store,
  type StoreLogger,
  WatchCompactedError,
  type WatchEvent,
  type WatchOptions,
  type WriteGuard,
  type WriteOptions,
} from "./store.ts";

/** Options for {@linkcode openEmbeddedStore}. */
export interface EmbeddedStoreOptions {
  /**
   * File that keeps the keys without a lease across restarts (created with its folder when
   * missing). Default: none, the store lives in memory only.
   */
  path?: string;
  /** How long after a change the file is written; `close()` writes at once. Default: 100 ms. */
  flushDelayMs?: number;
  /**
   * How many past events are kept for watches that start from a revision; older revisions
   * (and a watcher that falls this far behind) get `WatchCompactedError`. Default: 10000.
   */
  historyLimit?: number;
  /** Time for lease expiry and debounced writes. Default: the system clock. */
  clock?: Pick<Clock, "now" | "setTimer">;
  /** Where failed background writes are reported. Default: `console`. */
  logger?: StoreLogger;
}

interface LeaseState {
  readonly id: string;
  readonly ttlSeconds: number;
  readonly keys: Set<string>;
  readonly controller: AbortController;
  /** See `Lease.aliveUntil`. */
  readonly aliveUntil: number;
  cancelExpiry?: () => void;
}

interface Watcher {
  readonly prefix: string;
  /** First revision to deliver: a watch may start from a future revision. */
  readonly from: number;
  readonly queue: AsyncQueue<WatchEvent>;
}

/**
 * The store in-process. Keys without a lease survive a restart through the `path` file; keys
 * with a lease belong to this process run and are not restored, as if their lease expired with
 * the process. History starts afresh at each open: watches can start from the opening
 * revision + 1 on.
 *
 * @example
 * ```ts
 * const store = await openEmbeddedStore({ path: "data/store.json" });
 * await store.put("/resources/a", "{}");
 * await store.close(); // flushes the file
 * ```
 */
export class EmbeddedStore implements Store {
  readonly path: string | undefined;
  readonly #clock: Pick<Clock, "now" | "setTimer">;
  readonly #historyLimit: number;
  readonly #kvs = new Map<string, KeyValue>();
  readonly #leases = new Map<string, LeaseState>();
  readonly #watchers = new Set<Watcher>();
  readonly #closeController = new AbortController();
  readonly #file: SnapshotFile | undefined;
  readonly #logger: StoreLogger;
  #revision: number;
  /** Events after `#oldestRevision - 1`, in revision order. */
  #history: WatchEvent[] = [];
  /** The first revision a watch can start from. */
  #oldestRevision: number;
  #lastLeaseId = 0;
  #closing: Promise<void> | undefined;

  private constructor(options: EmbeddedStoreOptions, snapshot: Snapshot | undefined) {
    this.path = options.path;
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? console;
    this.#historyLimit = options.historyLimit ?? 10_000;
    if (!Number.isInteger(this.#historyLimit) || this.#historyLimit < 1) {
      throw new RangeError(`historyLimit must be a whole number >= 1: ${this.#historyLimit}`);
    }
    this.#revision = snapshot?.revision ?? 0;
    for (const kv of snapshot?.kvs ?? []) this.#kvs.set(kv.key, Object.freeze({ ...kv }));
    this.#oldestRevision = this.#revision + 1;
    if (options.path !== undefined) {
      this.#file = new SnapshotFile(options.path, {
        delayMs: options.flushDelayMs ?? 100,
        clock: this.#clock,
        logger: this.#logger,
        snapshot: () => this.#snapshot(),
      });
    }
  }

  /** Opens a store, loading `options.path` when it exists. Prefer {@linkcode openEmbeddedStore}. */
  static async open(options: EmbeddedStoreOptions = {}): Promise<EmbeddedStore> {
    const snapshot = options.path === undefined ? undefined : await loadSnapshot(options.path);
    return new EmbeddedStore(options, snapshot);
  }

  /** The store's current revision. */
  get revision(): number {
    return this.#revision;
  }

  get(key: string): Promise<KeyValue | undefined> {
    return this.#run(() => this.#kvs.get(key));
  }

  getPrefix(prefix: string): Promise<RangeResult> {
    return this.#run(() => {
      const kvs = [...this.#kvs.values()].filter((kv) => kv.key.startsWith(prefix));
      // etcd returns ranges in key byte order; UTF-16 order differs only outside the BMP.
      kvs.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      return { kvs, revision: this.#revision };
    });
  }

  // The keys of `alsoPut` are written in the same synchronous step as the write, so nothing
  // comes between them (each at a revision of its own, where etcd uses one for the transaction).

  put(key: string, value: string, options: WriteOptions = {}): Promise<number> {
    return this.#run(() => {
      this.#checkGuard(options.guard);
      const revision = this.#put(key, value, undefined);
      this.#putAlso(options);
      return revision;
    });
  }

  create(key: string, value: string, options: WriteOptions = {}): Promise<boolean> {
    return this.#run(() => {
      this.#checkGuard(options.guard);
      if (this.#kvs.has(key)) return false;
      this.#put(key, value, undefined);
      this.#putAlso(options);
      return true;
    });
  }

  delete(key: string, options: WriteOptions = {}): Promise<boolean> {
    return this.#run(() => {
      this.#checkGuard(options.guard);
      const previous = this.#kvs.get(key);
      if (previous) {
        const revision = ++this.#revision;
        this.#remove(previous);
        this.#record([{ type: "delete", key, prevKv: previous, revision }]);
      }
      this.#putAlso(options);
      return previous !== undefined;
    });
  }

  async *watchPrefix(prefix: string, options: WatchOptions = {}): AsyncGenerator<WatchEvent> {
    if (this.#closeController.signal.aborted) return;
    const from = options.fromRevision ?? this.#revision + 1;
    if (from < this.#oldestRevision) throw new WatchCompactedError(this.#oldestRevision);
    const watcher: Watcher = { prefix, from, queue: new AsyncQueue() };
    // Replay and subscribe in one synchronous step, so no event falls between them.
    for (const event of this.#history) {
      if (event.revision >= from && event.key.startsWith(prefix)) watcher.queue.push(event);
    }
    this.#watchers.add(watcher);
    try {
      while (true) {
        const next = await watcher.queue.shift(options.signal);
        if (next.done) return;
        yield next.value;
      }
    } finally {
      this.#watchers.delete(watcher);
    }
  }

  grantLease(ttlSeconds: number, options: LeaseOptions = {}): Promise<Lease> {
    return this.#run(() => {
      if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) {
        throw new RangeError(`lease TTL must be a whole number of seconds >= 1: ${ttlSeconds}`);
      }
      const state: LeaseState = {
        id: String(++this.#lastLeaseId),
        ttlSeconds,
        keys: new Set(),
        controller: new AbortController(),
        aliveUntil: options.keepAlive === false
          ? this.#clock.now() + ttlSeconds * 1000
          : Number.POSITIVE_INFINITY,
      };
      this.#leases.set(state.id, state);
      // A kept-alive lease lives as long as this process keeps it, which in-process is until
      // it is revoked or the store closes: only a lease not kept alive runs out on its own.
      if (options.keepAlive === false) {
        state.cancelExpiry = this.#clock.setTimer(
          () => this.#endLease(state.id, new LeaseLostError(`lease ${state.id} expired`)),
          ttlSeconds * 1000,
        );
      }
      return this.#leaseHandle(state);
    });
  }

  /** Revokes a lease by id: its keys are deleted, its holder's signal aborts. False if unknown. */
  revokeLease(id: string): Promise<boolean> {
    return this.#run(() => this.#endLease(id, new LeaseLostError(`lease ${id} revoked`)));
  }

  /**
   * Forgets the history before `revision`, as etcd's compaction does: watches from an older
   * revision then fail with `WatchCompactedError`. The keys themselves are kept.
   */
  compact(revision: number): Promise<void> {
    return this.#run(() => {
      if (revision > this.#revision) {
        throw new RangeError(`cannot compact to ${revision}, beyond revision ${this.#revision}`);
      }
      if (revision <= this.#oldestRevision) return;
      this.#history = this.#history.filter((event) => event.revision >= revision);
      this.#oldestRevision = revision;
    });
  }

  election(prefix: string, ttlSeconds: number): Election {
    return new StoreElection(this, prefix, ttlSeconds, {
      logger: this.#logger,
      closed: this.#closeController.signal,
    });
  }

  /** Ends leases (their keys are not persisted anyway), watches and elections; flushes the file. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    for (const state of this.#leases.values()) {
      state.cancelExpiry?.();
      state.controller.abort(new LeaseLostError(`lease ${state.id} ended: store closed`));
    }
    this.#leases.clear();
    this.#closeController.abort(new Error("embedded store closed"));
    for (const watcher of this.#watchers) watcher.queue.end();
    await this.#file?.close();
  }

  #leaseHandle(state: LeaseState): Lease {
    return {
      id: state.id,
      ttlSeconds: state.ttlSeconds,
      signal: state.controller.signal,
      aliveUntil: state.aliveUntil,
      // In-process nothing is ever late: there is no renewal to report.
      onRenewed: () => () => {},
      put: (key, value) =>
        this.#run(() => {
          if (state.controller.signal.aborted) throw state.controller.signal.reason;
          return this.#put(key, value, state);
        }),
      revoke: () => {
        // A lease that already ended (expired, revoked, store closing) has no keys left to drop.
        if (!state.controller.signal.aborted && !this.#closeController.signal.aborted) {
          this.#endLease(state.id, new LeaseLostError(`lease ${state.id} revoked`));
        }
        return Promise.resolve();
      },
    };
  }

  /**
   * Throws `GuardFailedError` unless the guard's key exists with its create revision. Checked
   * in the same synchronous step as the write it guards, so nothing can come between them.
   */
  #checkGuard(guard: WriteGuard | undefined): void {
    if (!guard) return;
    checkWriteGuard(guard);
    if (this.#kvs.get(guard.key)?.createRevision !== guard.createRevision) {
      throw new GuardFailedError(guard);
    }
  }

  #putAlso(options: WriteOptions): void {
    for (const entry of options.alsoPut ?? []) this.#put(entry.key, entry.value, undefined);
  }

  #put(key: string, value: string, lease: LeaseState | undefined): number {
    const revision = ++this.#revision;
    const previous = this.#kvs.get(key);
    if (previous) this.#remove(previous);
    const kv: KeyValue = {
      key,
      value,
      createRevision: previous?.createRevision ?? revision,
      modRevision: revision,
    };
    if (lease) kv.lease = lease.id;
    this.#kvs.set(key, Object.freeze(kv));
    lease?.keys.add(key);
    const event: WatchEvent = previous
      ? { type: "put", key, kv, prevKv: previous, revision }
      : { type: "put", key, kv, revision };
    this.#record([event]);
    return revision;
  }

  /** Drops a key from the map and from its lease's key set. */
  #remove(kv: KeyValue): void {
    this.#kvs.delete(kv.key);
    if (kv.lease) this.#leases.get(kv.lease)?.keys.delete(kv.key);
  }

  /** Ends a lease: all its keys are deleted in one revision, as etcd does. */
  #endLease(id: string, reason: LeaseLostError): boolean {
    const state = this.#leases.get(id);
    if (!state) return false;
    this.#leases.delete(id);
    state.cancelExpiry?.();
    if (state.keys.size > 0) {
      const revision = ++this.#revision;
      const events: WatchEvent[] = [...state.keys].sort().map((key) => {
        const previous = this.#kvs.get(key)!;
        this.#kvs.delete(key);
        return { type: "delete", key, prevKv: previous, revision };
      });
      state.keys.clear();
      this.#record(events);
    }
    state.controller.abort(reason);
    return true;
  }

  /** Appends one revision's events to the history, hands them to watchers, schedules a write. */
  #record(events: WatchEvent[]): void {
    for (const event of events) Object.freeze(event);
    this.#history.push(...events);
    // Trim in batches (a quarter of the limit) to keep trimming cheap, and only at revision
    // boundaries so a revision is never half available.
    if (this.#history.length > this.#historyLimit * 1.25) {
      let cut = this.#history.length - this.#historyLimit;
      while (
        cut < this.#history.length &&
        this.#history[cut].revision === this.#history[cut - 1].revision
      ) cut++;
      this.#oldestRevision = this.#history[cut - 1].revision + 1;
      this.#history = this.#history.slice(cut);
    }
    for (const watcher of this.#watchers) {
      for (const event of events) {
        if (event.revision >= watcher.from && event.key.startsWith(watcher.prefix)) {
          watcher.queue.push(event);
        }
      }
      if (watcher.queue.size > this.#historyLimit) {
        // Like etcd with a watcher that cannot keep up: it is cancelled as compacted rather
        // than buffered without bound.
        watcher.queue.fail(new WatchCompactedError(this.#oldestRevision));
        this.#watchers.delete(watcher);
      }
    }
    this.#file?.schedule();
  }

  #snapshot(): Snapshot {
    const kvs = [...this.#kvs.values()]
      .filter((kv) => kv.lease === undefined)
      .map(({ key, value, createRevision, modRevision }) => ({
        key,
        value,
        createRevision,
        modRevision,
      }));
    return { version: 1, revision: this.#revision, kvs };
  }

  /** Runs a synchronous operation as the async one the interface promises, failures included. */
  #run<T>(operation: () => T): Promise<T> {
    try {
      if (this.#closeController.signal.aborted) throw new Error("embedded store is closed");
      return Promise.resolve(operation());
    } catch (error) {
      return Promise.reject(error);
    }
  }
}

/**
 * Opens an {@linkcode EmbeddedStore}, restoring the keys without a lease from `options.path`.
 *
 * @throws {Error} when the file exists but is not a snapshot this store wrote.
 */
export function openEmbeddedStore(options: EmbeddedStoreOptions = {}): Promise<EmbeddedStore> {
  return EmbeddedStore.open(options);
}
