/**
 * @module
 * `crawler worker` in cluster mode: the engine, the registration and resource watch over the
 * coordination store, and the worker's HTTP API, until `signal` aborts.
 */
import type { Config } from "../config/config_schema.ts";
import { defaultAdvertiseHost } from "../config/advertise.ts";
import { type Flags, type ListenAddress, parseListenAddress } from "../config/flags.ts";
import type { Logger } from "../log/logger.ts";
import type { RuleSet } from "../spider/rule_set.ts";
import type { Store } from "../store/store.ts";
import { ClusterWorker } from "./cluster_worker.ts";
import { createEngine } from "./engine_deps.ts";
import { createTaskResolver } from "./task_resolver.ts";
import { createWorkerApp } from "./worker_app.ts";

export interface RunWorkerOptions {
  config: Config;
  flags: Flags;
  logger: Logger;
  signal: AbortSignal;
  store: Store;
  ruleSets: ReadonlyMap<string, RuleSet>;
  /** Called once the HTTP server listens (tests read the port from it). */
  onListen?: (http: { hostname: string; port: number }) => void;
}

/** The worker's id as the Go project forms it: `<Name>-<id>`. */
export function workerIdOf(config: Config, flags: Flags): string {
  return `${config.GRPCServer.Name}-${flags.id ?? config.GRPCServer.ID ?? "1"}`;
}

export function workerListenAddresses(config: Config, flags: Flags): {
  http: ListenAddress;
  grpc: ListenAddress;
} {
  return {
    http: flags.http ??
      parseListenAddress(
        config.GRPCServer.HTTPListenAddress ?? ":8080",
        "GRPCServer.HTTPListenAddress",
      ),
    grpc: flags.grpc ??
      parseListenAddress(
        config.GRPCServer.GRPCListenAddress ?? ":9090",
        "GRPCServer.GRPCListenAddress",
      ),
  };
}

/** Runs a cluster worker until `signal` aborts, then releases everything it holds. */
export async function runClusterWorker(options: RunWorkerOptions): Promise<void> {
  const { config, flags, logger, signal, store } = options;
  const id = workerIdOf(config, flags);
  const listen = workerListenAddresses(config, flags);
  const host = flags.advertise ?? defaultAdvertiseHost();
  const log = logger.child("worker");
  const engine = createEngine(config, logger);
  const worker = new ClusterWorker({
    store,
    crawler: engine.crawler,
    resolveTask: createTaskResolver(config, options.ruleSets),
    registration: {
      id,
      address: `${host}:${listen.grpc.port}`,
      httpAddress: `${host}:${listen.http.port}`,
      startTime: new Date().toISOString(),
    },
    registerTtlSeconds: config.GRPCServer.RegisterTTL,
    logger: log,
  });
  const app = createWorkerApp({
    workerId: id,
    tasks: () => worker.status(),
    ready: () => worker.ready,
  });
  const server = Deno.serve({
    hostname: listen.http.host || "0.0.0.0",
    port: listen.http.port,
    signal,
    onListen: (addr) => {
      log.info("worker HTTP listening", { address: `${addr.hostname}:${addr.port}`, worker: id });
      options.onListen?.(addr);
    },
  }, app.fetch);
  try {
    await worker.run(signal);
  } finally {
    await engine.close();
    await server.finished;
    log.info("worker stopped", { worker: id });
  }
}
