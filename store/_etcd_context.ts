/**
 * @module
 * What the parts of the etcd store share: the client, the store's lifetime, and the policy for
 * calling etcd (a deadline per operation, retries while etcd is unreachable).
 */

import type { Etcd3 } from "etcd3";
import { backoffDelay, type BackoffPolicy } from "./_backoff.ts";
import { delay } from "../async/delay.ts";
import { isConnectionError, toStoreError } from "./_etcd_kv.ts";
import type { StoreLogger } from "./store.ts";

/** Shared by `EtcdStore`, its leases and its watches. */
export interface EtcdContext {
  readonly client: Etcd3;
  /** Aborted when the store closes: loops stop, waits end. */
  readonly closed: AbortSignal;
  readonly logger: StoreLogger;
  readonly backoff: BackoffPolicy;
  /** Budget of one operation, retries included. */
  readonly timeoutMs: number;
  /** Keeps a background task (a watch loop, a revoke) so `close()` can wait for it. */
  track(task: Promise<unknown>): void;
}

/** Options for {@linkcode callEtcd}. */
export interface CallEtcdOptions {
  /** Which failures to retry. Default: connection failures only (safe for writes). */
  retryIf?: (error: unknown) => boolean;
  /** Budget for this call. Default: the context's `timeoutMs`. */
  timeoutMs?: number;
}

/**
 * Runs `call` with a gRPC deadline, retrying with backoff while `retryIf` accepts the failure
 * and the budget lasts; failures come out as the store's errors (`StoreUnavailableError`...).
 */
export async function callEtcd<T>(
  context: EtcdContext,
  operation: string,
  call: (options: { deadline: Date }) => Promise<T>,
  options: CallEtcdOptions = {},
): Promise<T> {
  const retryIf = options.retryIf ?? isConnectionError;
  const deadline = Date.now() + (options.timeoutMs ?? context.timeoutMs);
  for (let attempt = 0;; attempt++) {
    if (context.closed.aborted) throw new Error(`etcd store is closed (${operation})`);
    try {
      return await call({ deadline: new Date(deadline) });
    } catch (error) {
      const wait = backoffDelay(context.backoff, attempt);
      if (!retryIf(error) || Date.now() + wait >= deadline || context.closed.aborted) {
        throw toStoreError(error, operation);
      }
      try {
        await delay(wait, { signal: context.closed });
      } catch {
        throw toStoreError(error, operation);
      }
    }
  }
}
