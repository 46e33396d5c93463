/**
 * @module
 * Helpers for the master's tests: workers registered straight in a store, and
 * the dashboard's API client run outside a browser.
 */
import { workerKey } from "../proto/keys.ts";
import { encodeWorkerRegistration } from "../proto/worker_registration.ts";
import { silentLogger } from "../log/logger.ts";
import { type EmbeddedStore, openEmbeddedStore } from "../store/embedded_store.ts";
import type { Lease, Store } from "../store/store.ts";
import { apiClient, type DashboardApi } from "./dashboard/api_client.ts";

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

/**
 * The dashboard's own API client (`dashboard/api_client.ts`, the code the page runs) with
 * `fetch` standing in for the browser's, so tests drive writes exactly as the page makes them:
 * one `Idempotency-Key` per write, retried after a 503 or no answer. `token` is what the page
 * would have in `sessionStorage`.
 */
export function dashboardApiClient(
  fetch: (path: string, init: RequestInit) => Promise<Response>,
  options: { token?: string } = {},
): DashboardApi {
  return apiClient({
    fetch,
    token: () => options.token ?? null,
    askToken: () => {
      throw new Error("the dashboard's API client asked for a token");
    },
  });
}
