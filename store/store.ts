/**
 * @module
 * The coordination store: the small surface masters and workers need from etcd.
 * `EtcdStore` implements it over a real etcd cluster; `EmbeddedStore` implements the same
 * semantics in-process (for `crawler dev`), persisted to a file.
 */

/** One key as read from the store. Revisions are the store's global revision numbers. */
export interface KeyValue {
  key: string;
  value: string;
  /** Revision at which the key was created (etcd's create_revision). */
  createRevision: number;
  /** Revision of the last change to the key (etcd's mod_revision). */
  modRevision: number;
  /** Lease the key is attached to, or undefined. */
  lease?: string;
}

/** A read of a key range and the store revision the read was taken at. */
export interface RangeResult {
  kvs: KeyValue[];
  /** The store's revision when the read happened: watch from `revision + 1` to miss nothing. */
  revision: number;
}

/** A change seen by a watch. `revision` is the revision of this change. */
export type WatchEvent =
  | { type: "put"; key: string; kv: KeyValue; prevKv?: KeyValue; revision: number }
  | { type: "delete"; key: string; prevKv?: KeyValue; revision: number };

export interface WatchOptions {
  /**
   * First revision to deliver (inclusive). Default: changes after the watch starts, which is when
   * iteration starts; pass `RangeResult.revision + 1` to miss nothing after a read.
   */
  fromRevision?: number;
  /** Ends the watch: the iterator returns. */
  signal?: AbortSignal;
}

/**
 * A lease granted by the store. Keys put through it vanish when it expires or is revoked.
 * The implementation keeps it alive until `revoke()` or until it is lost (unless it was granted
 * with `keepAlive: false`).
 */
export interface Lease {
  /** The lease id (etcd's int64 lease id in decimal). */
  readonly id: string;
  /** The TTL the store granted, in seconds: etcd may raise the requested TTL to its minimum. */
  readonly ttlSeconds: number;
  /**
   * Aborted (with a `LeaseLostError` reason) when the lease is lost: expired, revoked, or the
   * store unreachable past its TTL.
   */
  readonly signal: AbortSignal;
  /**
   * Until when (epoch ms, this process's clock) the lease is known to live: when the last
   * acknowledged keep-alive (or the grant) was sent, plus the TTL. Past it the lease may have
   * expired on the server, though the store may also still hold it (etcd renews every lease when
   * it restarts): a holder that must never act without the lease (a worker's tasks) stops before
   * this time, and goes on when `onRenewed` says the lease was kept alive again.
   * `Infinity` for a lease that cannot expire behind its holder's back (the embedded store's).
   */
  readonly aliveUntil: number;
  /** Calls `listener` whenever a keep-alive moves `aliveUntil` on; returns the unsubscribe. */
  onRenewed(listener: () => void): () => void;
  /**
   * Puts a value attached to this lease; returns the revision of the write. Rejects with
   * `LeaseLostError` once the lease is lost.
   */
  put(key: string, value: string): Promise<number>;
  /** Ends the lease: its keys are deleted and `signal` aborts. Safe to call twice or after loss. */
  revoke(): Promise<void>;
}

/** Options for `Store.grantLease`. */
export interface LeaseOptions {
  /**
   * Keep the lease alive until `revoke()` (default: true). With false the lease expires
   * `ttlSeconds` after the grant, taking its keys with it.
   */
  keepAlive?: boolean;
}

/**
 * A condition on a write: apply it only while `key` exists with exactly this create revision.
 * A leader passes its election key's guard (`Campaign.guard`), so a write it makes after
 * losing leadership — its key expired or deleted, even if it has not noticed yet — changes
 * nothing (etcd's Go election does the same with `Txn(If(CreateRevision(leaderKey) == rev))`).
 */
export interface WriteGuard {
  key: string;
  /** The create revision `key` must have (a whole number >= 1). */
  createRevision: number;
}

/** A key and the value to put there. */
export interface KeyValueToPut {
  key: string;
  value: string;
}

/** Options of `Store.put`, `Store.create` and `Store.delete`. */
export interface WriteOptions {
  /**
   * Apply the write only while the guard holds, atomically with the write; otherwise nothing is
   * written and the call throws `GuardFailedError`. Default: no condition.
   */
  guard?: WriteGuard;
  /**
   * More keys to put in the same transaction, written exactly when the write is: with a `put`
   * or a `delete` (whether or not the key existed), and with a `create` only when it creates
   * the key. A leader records what it answered beside the change it made this way, so the two
   * can never part. Each key at most once, none the write's own. Default: none.
   */
  alsoPut?: readonly KeyValueToPut[];
}

/** One candidacy in an election. */
export interface Campaign {
  /** Resolves when this candidate is leader; rejects if the candidacy is lost or resigned first. */
  readonly elected: Promise<void>;
  /**
   * Once elected: this candidate's election key and its create revision. Writes made as leader
   * pass it as their guard, so they fail with `GuardFailedError` once the key is gone or
   * replaced, however late this candidate learns it lost. Undefined until elected; kept after
   * the candidacy ends (writes guarded by it then fail).
   */
  readonly guard: WriteGuard | undefined;
  /** Aborted when this candidacy (and so any leadership it won) ends: lost lease, resign, close. */
  readonly signal: AbortSignal;
  /** Gives up leadership (or candidacy) so another candidate can be elected. */
  resign(): Promise<void>;
}

/** Leader election over a key prefix (etcd's concurrency/election recipe). */
export interface Election {
  /**
   * Stands for leader with `value` (the master id). Leadership lasts while the lease of
   * `ttlSeconds` lives.
   */
  campaign(value: string): Campaign;
  /** The current leader's value, or undefined when there is none. */
  leader(): Promise<string | undefined>;
  /**
   * Yields the leader's value now and at every change (undefined while there is none),
   * until `signal` aborts. Survives store restarts by re-reading the leader.
   */
  observe(options?: { signal?: AbortSignal }): AsyncIterable<string | undefined>;
}

/**
 * Where a store reports errors it handles itself (a watch reconnecting, a retried call): a
 * message and fields, the failure under `error`. `console` and the project's `Logger` both fit.
 */
export interface StoreLogger {
  /** Expected, self-healing events (a reconnect while etcd restarts). Default: `warn`. */
  info?(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export interface Store {
  get(key: string): Promise<KeyValue | undefined>;
  getPrefix(prefix: string): Promise<RangeResult>;
  /**
   * Puts a value; returns the revision of the write.
   * @throws {GuardFailedError} when `options.guard` does not hold (nothing is written).
   */
  put(key: string, value: string, options?: WriteOptions): Promise<number>;
  /**
   * Puts only if the key does not exist (a transaction). True when it was created, false when
   * the key exists (and the guard, if any, holds).
   * @throws {GuardFailedError} when `options.guard` does not hold (nothing is written).
   */
  create(key: string, value: string, options?: WriteOptions): Promise<boolean>;
  /**
   * Deletes a key; true when it existed.
   * @throws {GuardFailedError} when `options.guard` does not hold (nothing is deleted).
   */
  delete(key: string, options?: WriteOptions): Promise<boolean>;
  /**
   * Watches a prefix. Events come in revision order, each with the previous value (prevKV).
   * Throws `WatchCompactedError` when `fromRevision` is no longer available (reload, then
   * watch again), and resumes by itself across connection loss without losing or repeating events.
   */
  watchPrefix(prefix: string, options?: WatchOptions): AsyncIterable<WatchEvent>;
  /** Grants a lease of `ttlSeconds` (a whole number, at least 1). */
  grantLease(ttlSeconds: number, options?: LeaseOptions): Promise<Lease>;
  /**
   * An election over `prefix` (etcd's recipe: candidates' keys are `<prefix>/<lease id in hex>`,
   * the leader is the key with the lowest create revision).
   */
  election(prefix: string, ttlSeconds: number): Election;
  /** Revokes this store's leases (so leadership passes at once), ends watches, disconnects. */
  close(): Promise<void>;
}

/** The requested revision was compacted: the watcher must reload and watch from a new revision. */
export class WatchCompactedError extends Error {
  constructor(readonly compactRevision: number, options?: ErrorOptions) {
    super(`watch revision compacted (oldest available: ${compactRevision})`, options);
    this.name = "WatchCompactedError";
  }
}

/** The lease is gone: keys put through it are deleted, or will be. */
export class LeaseLostError extends Error {
  constructor(message = "lease lost", options?: ErrorOptions) {
    super(message, options);
    this.name = "LeaseLostError";
  }
}

/**
 * A guarded write was refused: the guard's key no longer exists with the create revision the
 * guard names (for a leader: it lost leadership). Nothing was written.
 */
export class GuardFailedError extends Error {
  constructor(readonly guard: WriteGuard, options?: ErrorOptions) {
    super(
      `write refused: guard key ${guard.key} no longer exists with create revision ` +
        `${guard.createRevision}`,
      options,
    );
    this.name = "GuardFailedError";
  }
}
