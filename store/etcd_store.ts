/**
 * @module
 * `EtcdStore`: the coordination store over a real etcd cluster (npm `etcd3`'s gRPC clients),
 * with call deadlines, retries while etcd is unreachable, watches that resume exactly after a
 * reconnect, leases kept alive, and etcd's election recipe.
 */

import { Etcd3, type ICompare, Range } from "etcd3";
import type { BackoffPolicy } from "./_backoff.ts";
import { callEtcd, type EtcdContext } from "./_etcd_context.ts";
import { isRetriableRead, toKeyValue } from "./_etcd_kv.ts";
import { hostBreakerPolicy, passThroughPolicy } from "./_host_breaker.ts";
import { EtcdLease } from "./_etcd_lease.ts";
import { watchEtcdPrefix } from "./_etcd_watch.ts";
import { StoreElection } from "./store_election.ts";
import { checkWriteGuard } from "./_write_guard.ts";
import { StoreUnavailableError } from "../errors/mod.ts";
import {
  type Election,
  GuardFailedError,
  type KeyValue,
  type KeyValueToPut,
  type Lease,
  LeaseLostError,
  type LeaseOptions,
  type RangeResult,
  type Store,
  type StoreLogger,
  type WatchEvent,
  type WatchOptions,
  type WriteGuard,
  type WriteOptions,
} from "./store.ts";

/** Options for {@linkcode EtcdStore} and {@linkcode openEtcdStore}. */
export interface EtcdStoreOptions {
  /** etcd client endpoints, `host:port` or `http://host:port`. Default: `["127.0.0.1:2379"]`. */
  endpoints?: string[];
  /** Budget of one operation, retries included. Default: 5000 ms. */
  timeoutMs?: number;
  /** Delays between retries and reconnects. Default: 50 ms doubling to 1 s, jittered. */
  backoff?: BackoffPolicy;
  /** Where errors the store handles itself (reconnects, retries) go. Default: `console`. */
  logger?: StoreLogger;
}

/**
 * The store over etcd. All calls retry while etcd is unreachable, within `timeoutMs`, then fail
 * with `StoreUnavailableError`; watches and lease keep-alives reconnect on their own.
 *
 * @example
 * ```ts
 * const store = await openEtcdStore({ endpoints: ["127.0.0.1:2379"] });
 * const { kvs, revision } = await store.getPrefix("/resources/");
 * for await (const event of store.watchPrefix("/resources/", { fromRevision: revision + 1 })) {
 *   console.log(event.type, event.key);
 * }
 * ```
 */
export class EtcdStore implements Store {
  readonly endpoints: readonly string[];
  readonly #context: EtcdContext;
  readonly #client: Etcd3;
  readonly #closeController = new AbortController();
  readonly #leases = new Set<EtcdLease>();
  readonly #tasks = new Set<Promise<unknown>>();
  #closing: Promise<void> | undefined;

  constructor(options: EtcdStoreOptions = {}) {
    this.endpoints = options.endpoints?.length ? [...options.endpoints] : ["127.0.0.1:2379"];
    const logger = options.logger ?? console;
    this.#client = new Etcd3({
      hosts: [...this.endpoints],
      faultHandling: {
        host: (host) => hostBreakerPolicy(host, 500),
        global: passThroughPolicy(),
      },
      grpcOptions: {
        // A private subchannel pool, so a new channel after a failure dials at once instead of
        // sharing a subchannel stuck in grpc-js' reconnect backoff (up to 2 minutes by default).
        "grpc.use_local_subchannel_pool": 1,
        "grpc.initial_reconnect_backoff_ms": 100,
        "grpc.max_reconnect_backoff_ms": 1000,
        // Notice a silent peer (a frozen etcd, a dropped network) while streams are open; etcd
        // accepts pings every 5 s or more.
        "grpc.keepalive_time_ms": 10_000,
        "grpc.keepalive_timeout_ms": 5_000,
      },
    });
    this.#context = {
      client: this.#client,
      closed: this.#closeController.signal,
      logger,
      backoff: options.backoff ?? {},
      timeoutMs: options.timeoutMs ?? 5000,
      track: (task) => this.#track(task),
    };
  }

  async get(key: string): Promise<KeyValue | undefined> {
    const response = await callEtcd(
      this.#context,
      "get",
      ({ deadline }) => this.#client.kv.range({ key: Buffer.from(key) }, { deadline }),
      { retryIf: isRetriableRead },
    );
    const kv = response.kvs[0];
    return kv ? toKeyValue(kv) : undefined;
  }

  async getPrefix(prefix: string): Promise<RangeResult> {
    const range = Range.prefix(prefix);
    const response = await callEtcd(
      this.#context,
      "get prefix",
      ({ deadline }) =>
        this.#client.kv.range({ key: range.start, range_end: range.end }, { deadline }),
      { retryIf: isRetriableRead },
    );
    return { kvs: response.kvs.map(toKeyValue), revision: Number(response.header.revision) };
  }

  /**
   * Puts a value. With a guard it is one transaction: the put only if the guard's key has the
   * guard's create revision. (As with any write, a call whose connection broke is retried and
   * its first attempt may have been applied: a guard that failed in between then reports
   * `GuardFailedError` for a write made while it held.)
   */
  async put(key: string, value: string, options: WriteOptions = {}): Promise<number> {
    const put = { key: Buffer.from(key), value: Buffer.from(value) };
    const { guard, alsoPut = [] } = options;
    if (!guard && alsoPut.length === 0) {
      const response = await callEtcd(
        this.#context,
        "put",
        ({ deadline }) => this.#client.kv.put(put, { deadline }),
      );
      return Number(response.header.revision);
    }
    if (guard) checkWriteGuard(guard);
    const response = await callEtcd(
      this.#context,
      guard ? "guarded put" : "put",
      ({ deadline }) =>
        this.#client.kv.txn({
          compare: guard ? [guardCompare(guard)] : [],
          success: [{ request_put: put }, ...putRequests(alsoPut)],
          failure: [],
        }, { deadline }),
    );
    if (!response.succeeded && guard) throw new GuardFailedError(guard);
    return Number(response.header.revision);
  }

  /**
   * Put-if-absent: a transaction comparing the key's create revision with 0 (no such key), and
   * with a guard also the guard key's create revision. When a first attempt's connection broke,
   * it may have been applied: a retry that finds the key at version 1 holding exactly our value
   * counts it as ours (it was written while the guard held). Otherwise a failed guard is
   * reported before an existing key.
   */
  async create(key: string, value: string, options: WriteOptions = {}): Promise<boolean> {
    const keyBytes = Buffer.from(key);
    const valueBytes = Buffer.from(value);
    const { guard, alsoPut = [] } = options;
    if (guard) checkWriteGuard(guard);
    const absent: ICompare = {
      key: keyBytes,
      target: "Create",
      result: "Equal",
      create_revision: 0,
    };
    let attempts = 0;
    const response = await callEtcd(
      this.#context,
      guard ? "guarded create" : "create",
      ({ deadline }) => {
        attempts++;
        return this.#client.kv.txn({
          compare: guard ? [guardCompare(guard), absent] : [absent],
          success: [{ request_put: { key: keyBytes, value: valueBytes } }, ...putRequests(alsoPut)],
          failure: [
            { request_range: { key: keyBytes } },
            ...(guard ? [{ request_range: { key: Buffer.from(guard.key) } }] : []),
          ],
        }, { deadline });
      },
    );
    if (response.succeeded) return true;
    const existing = response.responses[0]?.response_range?.kvs[0];
    if (
      attempts > 1 && existing !== undefined && existing.version === "1" &&
      valueBytes.equals(existing.value)
    ) {
      return true;
    }
    if (guard) {
      const guardKv = response.responses[1]?.response_range?.kvs[0];
      if (guardKv === undefined || Number(guardKv.create_revision) !== guard.createRevision) {
        throw new GuardFailedError(guard);
      }
    }
    return false;
  }

  /**
   * Deletes a key; with a guard (or keys to put alongside), one transaction that deletes only if
   * the guard holds.
   */
  async delete(key: string, options: WriteOptions = {}): Promise<boolean> {
    const range = { key: Buffer.from(key) };
    const { guard, alsoPut = [] } = options;
    if (!guard && alsoPut.length === 0) {
      const response = await callEtcd(
        this.#context,
        "delete",
        ({ deadline }) => this.#client.kv.deleteRange(range, { deadline }),
      );
      return Number(response.deleted) > 0;
    }
    if (guard) checkWriteGuard(guard);
    const response = await callEtcd(
      this.#context,
      guard ? "guarded delete" : "delete",
      ({ deadline }) =>
        this.#client.kv.txn({
          compare: guard ? [guardCompare(guard)] : [],
          success: [{ request_delete_range: range }, ...putRequests(alsoPut)],
          failure: [],
        }, { deadline }),
    );
    if (!response.succeeded && guard) throw new GuardFailedError(guard);
    return Number(response.responses[0]?.response_delete_range?.deleted ?? 0) > 0;
  }

  watchPrefix(prefix: string, options?: WatchOptions): AsyncIterable<WatchEvent> {
    return watchEtcdPrefix(this.#context, prefix, options);
  }

  async grantLease(ttlSeconds: number, options: LeaseOptions = {}): Promise<Lease> {
    const lease = await EtcdLease.grant(this.#context, ttlSeconds, {
      ...options,
      onEnd: (ended) => this.#leases.delete(ended),
    });
    if (!lease.signal.aborted) this.#leases.add(lease);
    return lease;
  }

  /**
   * Revokes any lease by id, as `etcdctl lease revoke` does: its keys are deleted, and its holder
   * (in whatever process) finds it lost at its next keep-alive. Resolves false when there was
   * no such lease.
   */
  async revokeLease(id: string): Promise<boolean> {
    try {
      await callEtcd(
        this.#context,
        "lease revoke",
        ({ deadline }) => this.#client.leaseClient.leaseRevoke({ ID: id }, { deadline }),
      );
      return true;
    } catch (error) {
      if (error instanceof LeaseLostError) return false;
      throw error;
    }
  }

  /**
   * Compacts etcd's history up to `revision` (an operator task, here for tests and tools):
   * watches from older revisions then fail with `WatchCompactedError`.
   */
  async compact(revision: number): Promise<void> {
    await callEtcd(
      this.#context,
      "compact",
      ({ deadline }) => this.#client.kv.compact({ revision, physical: true }, { deadline }),
    );
  }

  election(prefix: string, ttlSeconds: number): Election {
    return new StoreElection(this, prefix, ttlSeconds, {
      backoff: this.#context.backoff,
      logger: this.#context.logger,
      closed: this.#closeController.signal,
    });
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    // Leases first, while the connection still works: revoking hands leadership and worker
    // registrations over now instead of after their TTL.
    await Promise.all(
      [...this.#leases].map((lease) =>
        lease.revoke().catch((error) => {
          this.#context.logger.warn(`closing etcd store: revoking lease ${lease.id} failed`, {
            error: error,
          });
        })
      ),
    );
    this.#closeController.abort(new Error("etcd store closed"));
    while (this.#tasks.size > 0) await Promise.all(this.#tasks);
    this.#client.close();
  }

  #track(task: Promise<unknown>): void {
    const tracked = task.then(
      () => undefined,
      (error) => this.#context.logger.error("etcd store background task failed", { error }),
    ).finally(() => this.#tasks.delete(tracked));
    this.#tasks.add(tracked);
  }
}

/** The transaction operations that put `entries`. */
function putRequests(entries: readonly KeyValueToPut[]) {
  return entries.map((entry) => ({
    request_put: { key: Buffer.from(entry.key), value: Buffer.from(entry.value) },
  }));
}

/** The comparison that holds while the guard's key exists with the guard's create revision. */
function guardCompare(guard: WriteGuard): ICompare {
  return {
    key: Buffer.from(guard.key),
    target: "Create",
    result: "Equal",
    create_revision: guard.createRevision,
  };
}

/**
 * Connects to etcd and checks that it answers within `timeoutMs`, so a wrong `--etcd` fails at
 * start with a clear message rather than at the first use.
 *
 * @throws {StoreUnavailableError} when no endpoint answers in time.
 */
export async function openEtcdStore(options: EtcdStoreOptions = {}): Promise<EtcdStore> {
  const store = new EtcdStore(options);
  try {
    await store.get("/");
  } catch (error) {
    await store.close();
    throw new StoreUnavailableError(
      `etcd is not reachable at ${store.endpoints.join(", ")}`,
      { cause: error },
    );
  }
  return store;
}
