/**
 * @module
 * `crawler master`: resolves the master's addresses and id from flags and config, serves the
 * HTTP and gRPC APIs, runs the {@linkcode Master}, and shuts everything down when told to.
 */
import type { Hono } from "hono";
import { defaultAdvertiseHost } from "../config/advertise.ts";
import { ConfigError } from "../errors/mod.ts";
import { type Config, isSharedFrontier, sharedFrontierMessage } from "../config/config_schema.ts";
import { type Flags, type ListenAddress, parseListenAddress } from "../config/flags.ts";
import type { Logger } from "../log/logger.ts";
import { buildMasterId } from "../proto/master_id.ts";
import { loadCrawlerMasterGrpc } from "../proto/crawler_grpc.ts";
import { builtinRuleSets } from "../rulesets/mod.ts";
import type { Store } from "../store/store.ts";
import { GrpcLeaderClient } from "./grpc_client.ts";
import { startGrpcServer } from "./grpc_server.ts";
import { createApp } from "./http_app.ts";
import { Master } from "./master.ts";
import { MasterMetrics } from "./metrics.ts";
import { ClusterView } from "./cluster_view.ts";
import { DASHBOARD_PATHS } from "./dashboard_page.ts";
import { GrpcWorkerStatusSource, type WorkerStatusSource } from "./worker_status_source.ts";
import { WorkerResultReader } from "./worker_result_reader.ts";
import { isSharedResults, openResultReader } from "../storage/open_result_reader.ts";
import type { ResultReader } from "../storage/result_reader.ts";

/** Default `--http` of a master. */
export const DEFAULT_MASTER_HTTP: ListenAddress = { host: "", port: 8081 };
/** Default `--grpc` of a master. */
export const DEFAULT_MASTER_GRPC: ListenAddress = { host: "", port: 9091 };

/** Options for {@linkcode runMaster}. */
export interface RunMasterOptions {
  config: Config;
  flags: Flags;
  logger: Logger;
  /** Aborting it shuts the master down; `runMaster` then resolves. */
  signal: AbortSignal;
  /** The coordination store; `runMaster` closes it on shutdown. */
  store: Store;
  /** Adds routes to the HTTP app before it is served (`crawler dev` mounts its worker here). */
  extendApp?: (app: Hono) => void;
  /** Whether `runMaster` closes the store when it stops. Default true. */
  ownsStore?: boolean;
  /**
   * The process exits once `runMaster` resolves (`crawler master`): its gRPC server and its
   * channels to the leader and to workers are then left to end with it instead of closed. A
   * graceful close sends each peer an HTTP/2 GOAWAY, and Deno 2.9 can abort a process whose
   * session receives one (denoland/deno#36788): followers of a leader that stops, the workers
   * it watched, the leader it forwarded to. Peers handle connections that drop without one, as
   * when a master is killed. Default false: everything is closed (in-process use, tests).
   */
  endsWithProcess?: boolean;
  /**
   * The API token (docs/operating.md, "Auth"): required on every HTTP request but the probes (and
   * `/metrics` when `auth.metrics = "open"`) and on every gRPC call. Default: none, every call is
   * served.
   */
  token?: string;
  /**
   * HTTP paths served without the token: pages that ask for it themselves. Default: the
   * dashboard's (`DASHBOARD_PATHS`).
   */
  publicPaths?: Iterable<string>;
  /**
   * How the dashboard's view asks workers for their status. Default: their gRPC `Status`
   * (`crawler dev` passes its in-process worker).
   */
  workerStatus?: WorkerStatusSource;
  /**
   * Where `GET /crawler/resource/<name>/items` reads tasks' items. Default: the Postgres of
   * `storage.sqlURL`, or with SQLite results (each worker has its own file) the workers,
   * merged. `crawler dev` passes its own file; the caller closes what it passes.
   */
  results?: ResultReader;
  /** Called once both servers listen, with the id and the ports (useful with port 0). */
  onListen?: (info: { id: string; httpPort: number; grpcPort: number }) => void;
}

/** Where a master listens and how it presents itself, from flags over config over defaults. */
export interface MasterSettings {
  /** The full master id, `master<id>-<advertise>:<grpcPort>`. */
  id: string;
  http: ListenAddress;
  grpc: ListenAddress;
  advertise: string;
  /** The flag or config key each address came from, for error messages. */
  sources: { http: string; grpc: string };
}

/**
 * Resolves the settings (flags win over the config's `MasterServer` section). Throws
 * `ConfigError` naming the flag or key when a value is unusable. A gRPC port of 0 is replaced by
 * a free port here, because the id must carry the real port.
 */
export function resolveMasterSettings(config: Config, flags: Flags): MasterSettings {
  const section = config.MasterServer;
  const http = flags.http ??
    (section.HTTPListenAddress
      ? parseListenAddress(section.HTTPListenAddress, "MasterServer.HTTPListenAddress")
      : DEFAULT_MASTER_HTTP);
  const grpc = flags.grpc ??
    (section.GRPCListenAddress
      ? parseListenAddress(section.GRPCListenAddress, "MasterServer.GRPCListenAddress")
      : DEFAULT_MASTER_GRPC);
  const resolvedGrpc = grpc.port === 0 ? { ...grpc, port: freePort(grpc.host) } : grpc;
  const advertise = flags.advertise ?? defaultAdvertiseHost();
  const shortId = flags.id ?? section.ID ?? "1";
  let id: string;
  try {
    id = buildMasterId({ id: shortId, host: advertise, grpcPort: resolvedGrpc.port });
  } catch (error) {
    const message = (error as Error).message;
    const key = message.startsWith("master id")
      ? (flags.id === undefined && section.ID !== undefined ? "MasterServer.ID" : "--id")
      : message.startsWith("bad advertise host")
      ? "--advertise"
      : "--grpc";
    throw new ConfigError(key, message, { cause: error });
  }
  const source = (flag: "http" | "grpc", key: string | undefined, name: string) =>
    flags[flag] === undefined && key !== undefined ? `MasterServer.${name}` : `--${flag}`;
  return {
    id,
    http,
    grpc: resolvedGrpc,
    advertise,
    sources: {
      http: source("http", section.HTTPListenAddress, "HTTPListenAddress"),
      grpc: source("grpc", section.GRPCListenAddress, "GRPCListenAddress"),
    },
  };
}

/**
 * Runs a master until `signal` aborts: starts the gRPC then the HTTP server, campaigns, and on
 * abort resigns (so another master leads at once), stops both servers and closes the store.
 */
export async function runMaster(options: RunMasterOptions): Promise<void> {
  const { config, flags, signal, store } = options;
  const logger = options.logger.child("master");
  const settings = resolveMasterSettings(config, flags);
  const grpcDefinition = loadCrawlerMasterGrpc();
  const metrics = new MasterMetrics();
  const leaderClient = new GrpcLeaderClient({ grpc: grpcDefinition });
  const master = new Master({
    store,
    id: settings.id,
    electionTtlSeconds: config.MasterServer.ElectionTTL,
    requestTimeoutMs: config.MasterServer.ClientTimeOut * 1000,
    ruleSets: builtinRuleSets().keys(),
    presets: config.Tasks.map((task) => task.Name),
    presetWorkers: new Map(config.Tasks.map((task) => [task.Name, task.Workers ?? 1])),
    multiWorkerRefusal: isSharedFrontier(config.frontier.url)
      ? undefined
      : sharedFrontierMessage(config.frontier.url),
    workerGraceMs: Math.min(config.MasterServer.WorkerGrace, config.GRPCServer.RegisterTTL) * 1000,
    rebalance: {
      enabled: config.MasterServer.Rebalance,
      intervalMs: config.MasterServer.RebalanceInterval * 1000,
      maxMoves: config.MasterServer.RebalanceMaxMoves,
      threshold: config.MasterServer.RebalanceThreshold,
    },
    idempotencyWindowMs: config.MasterServer.IdempotencyWindow * 1000,
    leaderClient,
    logger,
  });

  const leaveGrpc = options.endsWithProcess === true;
  const closeLeaderClient = () => leaveGrpc ? undefined : leaderClient.close();
  const cleanups: Array<() => Promise<void> | void> = [
    () => options.ownsStore === false ? undefined : store.close(),
    closeLeaderClient,
  ];
  const cleanUp = async () => {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        logger.error("shutdown step failed", { error });
      }
    }
  };

  const statusSource = options.workerStatus ??
    new GrpcWorkerStatusSource({ token: options.token });
  const view = new ClusterView({
    master,
    workers: leaveGrpc ? leftOpen(statusSource) : statusSource,
    logger: logger.child("view"),
  });
  let results = options.results;
  if (!results) {
    const shared = isSharedResults(config.storage.sqlURL);
    const own = shared
      ? openResultReader(config.storage.sqlURL)
      : new WorkerResultReader({ workers: () => master.listWorkers(), token: options.token });
    // The workers' result streams are gRPC channels (see `endsWithProcess`).
    if (shared || !leaveGrpc) cleanups.push(() => own.close());
    results = own;
  }

  const viewStop = new AbortController();
  const viewRun = view.run(viewStop.signal);
  cleanups.push(async () => {
    viewStop.abort();
    await viewRun;
  });

  try {
    const grpcServer = await startGrpcServer({
      master,
      hostname: settings.grpc.host,
      port: settings.grpc.port,
      grpc: grpcDefinition,
      metrics,
      view,
      logger,
      token: options.token,
    }).catch((error: Error) => {
      // A port in use is a bad value of the flag or key that chose it: exit 2 naming it.
      throw new ConfigError(settings.sources.grpc, error.message, { cause: error });
    });
    cleanups.push(() => leaveGrpc ? undefined : grpcServer.close());
    const app = createApp({
      master,
      metrics,
      logger,
      token: options.token,
      openMetrics: config.auth.metrics === "open",
      // The dashboard's files hold no data: its page asks for the token, sends it with each call.
      publicPaths: options.publicPaths ?? DASHBOARD_PATHS,
      view,
      results,
    });
    options.extendApp?.(app);
    const httpServer = serveHttp(settings.http, settings.sources.http, app.fetch);
    cleanups.push(() => httpServer.shutdown());
    // Once resigned, this master's own channels close before its gRPC server says GOAWAY: a
    // session of this process receiving a GOAWAY as it winds down can abort Deno 2.9 in
    // nghttp2 (denoland/deno#36788, seen on SIGTERM under load). Closing again later is a no-op.
    cleanups.push(async () => {
      closeLeaderClient();
      viewStop.abort();
      await viewRun;
    });
    master.start();
    cleanups.push(() => master.stop());
    const httpPort = httpServer.addr.port;
    logger.info("master started", {
      id: settings.id,
      http: `${settings.http.host}:${httpPort}`,
      grpc: `${settings.grpc.host}:${grpcServer.port}`,
      electionTtlSeconds: config.MasterServer.ElectionTTL,
    });
    options.onListen?.({ id: settings.id, httpPort, grpcPort: grpcServer.port });
    await aborted(signal);
    logger.info("master stopping", { id: settings.id });
  } finally {
    // Reverse order of start: resign first (leadership passes at once), then stop taking
    // requests, then drop connections and the store.
    await cleanUp();
  }
}

/** `source` whose `close` leaves its channels open (see `RunMasterOptions.endsWithProcess`). */
function leftOpen(source: WorkerStatusSource): WorkerStatusSource {
  return {
    status: (worker, options) => source.status(worker, options),
    retain: source.retain && ((keep) => source.retain!(keep)),
    close: () => {},
  };
}

function serveHttp(
  address: ListenAddress,
  source: string,
  handler: (request: Request) => Response | Promise<Response>,
): Deno.HttpServer<Deno.NetAddr> {
  try {
    return Deno.serve({
      hostname: address.host || "0.0.0.0",
      port: address.port,
      onListen: () => {}, // the master logs its own startup line
    }, handler);
  } catch (error) {
    // A port in use is a bad value of the flag or key that chose it: exit 2 naming it.
    throw new ConfigError(
      source,
      `the HTTP server cannot listen on ${address.host}:${address.port}: ${
        (error as Error).message
      }`,
      { cause: error },
    );
  }
}

function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) =>
    signal.addEventListener("abort", () => resolve(), { once: true })
  );
}

function freePort(host: string): number {
  const listener = Deno.listen({ hostname: host || "0.0.0.0", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}
