/**
 * @module
 * `crawler dev`: a master and a worker in one process over the embedded store, persisted to a
 * file so resources survive a restart. One HTTP port serves the master's API, the worker's
 * (under `/worker`) and the dashboard (`/`, the same page every master serves). No etcd needed.
 */
import type { Config } from "../config/config_schema.ts";
import type { Flags, ListenAddress } from "../config/flags.ts";
import type { Logger } from "../log/logger.ts";
import { DASHBOARD_PATHS } from "../master/dashboard_page.ts";
import { runMaster } from "../master/run_master.ts";
import type { RuleSet } from "../spider/rule_set.ts";
import { openEmbeddedStore } from "../store/mod.ts";
import { createClusterWorker } from "../worker/run_worker.ts";
import { openResultReader } from "../storage/open_result_reader.ts";

export interface RunDevOptions {
  config: Config;
  flags: Flags;
  logger: Logger;
  signal: AbortSignal;
  ruleSets: ReadonlyMap<string, RuleSet>;
  /** The API token (docs/operating.md, "Auth"); none is needed on loopback. Default: none. */
  token?: string;
  /** The embedded store's file. Default `data/dev-store.json`. */
  storePath?: string;
  onListen?: (info: { httpPort: number }) => void;
}

/**
 * Default `--http` of `crawler dev`: loopback, so it needs no token (docs/operating.md, "Auth").
 */
export const DEFAULT_DEV_HTTP: ListenAddress = { host: "127.0.0.1", port: 8080 };

export async function runDev(options: RunDevOptions): Promise<void> {
  const { config, logger } = options;
  // Our own signal too: if the master fails to start, the worker must stop as well.
  const controller = new AbortController();
  const stop = () => controller.abort(options.signal.reason);
  if (options.signal.aborted) stop();
  options.signal.addEventListener("abort", stop, { once: true });
  const signal = controller.signal;
  const storePath = options.storePath ?? "data/dev-store.json";
  const store = await openEmbeddedStore({ path: storePath, logger: logger.child("store") });
  const http = options.flags.http ?? DEFAULT_DEV_HTTP;
  // The master's gRPC port only matters to other masters; in dev there are none.
  const masterFlags: Flags = {
    id: "1",
    http,
    grpc: { host: "127.0.0.1", port: 0 },
    advertise: "127.0.0.1",
    insecure: options.flags.insecure,
  };
  let worker: Awaited<ReturnType<typeof createClusterWorker>>;
  try {
    worker = await createClusterWorker({
      config,
      flags: { id: "1" },
      logger,
      store,
      ruleSets: options.ruleSets,
      host: "127.0.0.1",
      // The worker has no port of its own in dev: its address is the shared HTTP port.
      listen: { http, grpc: http },
    });
  } catch (error) {
    await store.close();
    throw error;
  }
  const workerStopped = worker.run(signal);
  // One process, one results file (or database): the master reads it directly.
  const results = openResultReader(config.storage.sqlURL);
  logger.info("dev mode", { store: storePath, http: `${http.host || "0.0.0.0"}:${http.port}` });
  try {
    await runMaster({
      config,
      flags: masterFlags,
      logger,
      signal,
      store,
      token: options.token,
      // The worker's probes (and its metrics, when open) are as open as the master's.
      publicPaths: [
        ...DASHBOARD_PATHS,
        "/worker/healthz",
        "/worker/readyz",
        ...(config.auth.metrics === "open" ? ["/worker/metrics"] : []),
      ],
      ownsStore: false,
      extendApp: (app) => {
        app.route("/worker", worker.app);
      },
      // The worker runs in this process and has no gRPC port: the view asks it directly.
      workerStatus: {
        status: () =>
          Promise.resolve({
            id: worker.worker.id,
            ready: worker.worker.ready,
            tasks: worker.worker.status(),
          }),
        close: () => {},
      },
      results,
      onListen: ({ httpPort }) => options.onListen?.({ httpPort }),
    });
  } finally {
    controller.abort();
    options.signal.removeEventListener("abort", stop);
    await workerStopped;
    await results.close();
    await store.close();
  }
}
