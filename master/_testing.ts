/**
 * @module
 * Helpers for the master's tests: bounded waits and workers registered straight in a store.
 */
import { workerKey } from "../proto/keys.ts";
import { encodeWorkerRegistration } from "../proto/worker_registration.ts";
import { silentLogger } from "../log/logger.ts";
import { type EmbeddedStore, openEmbeddedStore } from "../store/embedded_store.ts";
import type { Lease, Store } from "../store/store.ts";
import { delay } from "../async/delay.ts";

/** Polls `predicate` every `intervalMs` until it holds; throws after `timeoutMs`. */
export async function waitUntil(
  predicate: () => boolean | Promise<boolean>,
  options: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 5000);
  while (!(await predicate())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${options.what ?? "a condition"}`);
    }
    await delay(options.intervalMs ?? 10);
  }
}

/**
 * Registers a worker the way a cluster worker does (its registry key on a lease), so master
 * tests need no worker process. Revoke the lease to make the worker leave.
 */
export async function registerWorker(
  store: Store,
  id: string,
  options: { ttlSeconds?: number; port?: number } = {},
): Promise<Lease> {
  const lease = await store.grantLease(options.ttlSeconds ?? 10);
  const port = options.port ?? 9090;
  await lease.put(
    workerKey(id),
    encodeWorkerRegistration({
      id,
      address: `127.0.0.1:${port}`,
      httpAddress: `127.0.0.1:${port - 1010}`,
      startTime: new Date().toISOString(),
    }),
  );
  return lease;
}

/** A loopback port that was free a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

/** An in-memory embedded store that `await using` closes. */
export async function openTestStore(): Promise<EmbeddedStore & AsyncDisposable> {
  const store = await openEmbeddedStore({ logger: silentLogger });
  return Object.assign(store, { [Symbol.asyncDispose]: () => store.close() });
}
