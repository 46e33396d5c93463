/**
 * @module
 * Helpers for the master's tests: bounded waits, workers registered straight in a store, and
 * the dashboard's API client run outside a browser.
 */
import { workerKey } from "../proto/keys.ts";
import { encodeWorkerRegistration } from "../proto/worker_registration.ts";
import { silentLogger } from "../log/logger.ts";
import { type EmbeddedStore, openEmbeddedStore } from "../store/embedded_store.ts";
import type { Lease, Store } from "../store/store.ts";
import { delay } from "../async/delay.ts";
import { DASHBOARD_API_CLIENT } from "./dashboard_page.ts";

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

/** The dashboard's `api(method, path, body)`: the parsed JSON answer, or throws its error. */
export type DashboardApi = (
  method: string,
  path: string,
  body?: string,
) => Promise<Record<string, unknown>>;

/**
 * The dashboard's own API client (`DASHBOARD_API_CLIENT`, the code the page runs) evaluated
 * with `fetch` standing in for the browser's, so tests drive writes exactly as the page makes
 * them: one `Idempotency-Key` per write, retried after a 503 or no answer. `token` is what the
 * page would have in `sessionStorage`.
 */
export function dashboardApiClient(
  fetch: (path: string, init: RequestInit) => Promise<Response>,
  options: { token?: string } = {},
): DashboardApi {
  class AuthNeeded extends Error {}
  const sessionStorage = { getItem: () => options.token ?? null };
  const askToken = () => {
    throw new Error("the dashboard's API client asked for a token");
  };
  const make = new Function(
    "fetch",
    "sessionStorage",
    "TOKEN_KEY",
    "askToken",
    "AuthNeeded",
    `${DASHBOARD_API_CLIENT}\nreturn api;`,
  );
  return make(fetch, sessionStorage, "crawler.token", askToken, AuthNeeded) as DashboardApi;
}
