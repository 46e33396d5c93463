/**
 * @module
 * `crawler worker` in cluster mode: the engine, the registration and resource watch over the
 * coordination store, and the worker's HTTP API, until `signal` aborts.
 */
import type { Hono } from "hono";
import type { Config } from "../config/config_schema.ts";
import { ConfigError } from "../errors/mod.ts";
import { defaultAdvertiseHost } from "../config/advertise.ts";
import { type Flags, type ListenAddress, parseListenAddress } from "../config/flags.ts";
import type { Logger } from "../log/logger.ts";
import type { RuleSet } from "../spider/rule_set.ts";
import type { Store } from "../store/store.ts";
import { ClusterWorker } from "./cluster_worker.ts";
import { createEngine } from "./engine_deps.ts";
import { createTaskResolver } from "./task_resolver.ts";
import { createWorkerApp } from "./worker_app.ts";
import { createWorkerRegistry } from "../metrics/worker_registry.ts";
import { openResultReader } from "../storage/open_result_reader.ts";
import { type RunningWorkerGrpc, startWorkerGrpc } from "./worker_grpc.ts";

export interface RunWorkerOptions {
  config: Config;
  flags: Flags;
  logger: Logger;
  signal: AbortSignal;
  store: Store;
  ruleSets: ReadonlyMap<string, RuleSet>;
  /** The API token (docs/operating.md, "Auth") its HTTP and gRPC APIs require. Default: none. */
  token?: string;
}

/** The worker's id as the Go project forms it: `<Name>-<id>`. */
export function workerIdOf(config: Config, flags: Flags): string {
  return `${config.GRPCServer.Name}-${flags.id ?? config.GRPCServer.ID ?? "1"}`;
}

/** Where the worker listens: flags over the config's `GRPCServer` section over :8080/:9090. */
export function workerListenAddresses(config: Config, flags: Flags): {
  http: ListenAddress;
  grpc: ListenAddress;
} {
  const section = config.GRPCServer;
  return {
    http: flags.http ??
      parseListenAddress(section.HTTPListenAddress ?? ":8080", "GRPCServer.HTTPListenAddress"),
    grpc: flags.grpc ??
      parseListenAddress(section.GRPCListenAddress ?? ":9090", "GRPCServer.GRPCListenAddress"),
  };
}

/** A cluster worker with its engine and HTTP app, not yet running. */
export interface ClusterWorkerParts {
  worker: ClusterWorker;
  app: Hono;
  /** Runs until `signal` aborts; then stops the tasks and flushes and closes the engine. */
  run(signal: AbortSignal): Promise<void>;
}

/** Builds a cluster worker over `store`, advertising `host` and the listen ports. */
export async function createClusterWorker(
  options: Omit<RunWorkerOptions, "signal"> & {
    host: string;
    listen: { http: ListenAddress; grpc: ListenAddress };
  },
): Promise<ClusterWorkerParts> {
  const { config, flags, logger, store } = options;
  const id = workerIdOf(config, flags);
  const log = logger.child("worker");
  // The engine asks the worker before every fetch: nothing goes out while it is fenced off.
  const engine = await createEngine(config, logger, {
    owner: id,
    mayFetch: () => worker.mayRun(),
  });
  const worker: ClusterWorker = new ClusterWorker({
    store,
    crawler: engine.crawler,
    resolveTask: createTaskResolver(config, options.ruleSets),
    registration: {
      id,
      address: `${options.host}:${options.listen.grpc.port}`,
      httpAddress: `${options.host}:${options.listen.http.port}`,
      startTime: new Date().toISOString(),
    },
    registerTtlSeconds: config.GRPCServer.RegisterTTL,
    logger: log,
  });
  // Serves what this worker stored: with SQLite results the master merges them from here.
  const results = openResultReader(config.storage.sqlURL);
  const app = createWorkerApp({
    workerId: id,
    tasks: () => worker.status(),
    ready: () => worker.ready,
    token: options.token,
    openMetrics: config.auth.metrics === "open",
    metrics: createWorkerRegistry({
      workerId: id,
      tasks: () => worker.status(),
      fetch: engine.fetchMetrics,
      browser: engine.browserMetrics,
    }),
    logger: log,
    results,
  });
  return {
    worker,
    app,
    async run(signal) {
      try {
        await worker.run(signal);
      } finally {
        await engine.close();
        await results.close();
        log.info("worker stopped", { worker: id });
      }
    },
  };
}

/**
 * Runs a cluster worker with its HTTP and gRPC servers until `signal` aborts, then releases
 * everything but the gRPC server's connections, which end with the process (see below). A port
 * in use is a `ConfigError` naming the flag or key that chose it.
 */
export async function runClusterWorker(options: RunWorkerOptions): Promise<void> {
  const { config, flags } = options;
  const listen = workerListenAddresses(config, flags);
  const host = flags.advertise ?? defaultAdvertiseHost();
  const parts = await createClusterWorker({ ...options, host, listen });
  const log = options.logger.child("worker");
  const release = () => parts.run(AbortSignal.abort()); // frees the engine it opened
  let grpcServer: RunningWorkerGrpc;
  try {
    grpcServer = await startWorkerGrpc({
      hostname: listen.grpc.host,
      port: listen.grpc.port,
      workerId: parts.worker.id,
      tasks: () => parts.worker.status(),
      ready: () => parts.worker.ready,
      token: options.token,
    });
  } catch (error) {
    await release();
    throw new ConfigError(
      flags.grpc ? "--grpc" : "GRPCServer.GRPCListenAddress",
      (error as Error).message,
      {
        cause: error,
      },
    );
  }
  let server: Deno.HttpServer;
  try {
    server = Deno.serve({
      hostname: listen.http.host || "0.0.0.0",
      port: listen.http.port,
      signal: options.signal,
      onListen: (addr) =>
        log.info("worker listening", {
          http: `${addr.hostname}:${addr.port}`,
          grpc: `${listen.grpc.host || "0.0.0.0"}:${grpcServer.port}`,
          worker: parts.worker.id,
        }),
    }, parts.app.fetch);
  } catch (error) {
    await grpcServer.close();
    await release();
    throw new ConfigError(
      flags.http ? "--http" : "GRPCServer.HTTPListenAddress",
      `cannot listen on port ${listen.http.port}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  try {
    await parts.run(options.signal);
  } finally {
    // The gRPC server is left to end with the process (`main` exits once this returns), not
    // closed: a close sends each master's open channel an HTTP/2 GOAWAY, and Deno 2.9 can abort
    // the receiving process in nghttp2 (denoland/deno#36788). Seen in CI: the surviving master
    // died the moment a worker stopped on SIGTERM. Masters handle a worker's connections
    // dropping without one, as when it is killed; the worker has left the registry by now.
    // The HTTP server stops with the signal; if the run ended otherwise (it threw), now.
    if (!options.signal.aborted) await server.shutdown();
    await server.finished;
  }
}
