/**
 * @module
 * The master's gRPC server (`crawler.CrawlerMaster` from `proto/crawler.proto`): the same
 * operations as the HTTP API, with errors mapped to gRPC codes by the one table in `errors/error_reply.ts`.
 */
import * as grpc from "@grpc/grpc-js";
import { tokenFromMetadata, tokenServerInterceptor } from "../auth/grpc_token.ts";
import type { Logger } from "../log/logger.ts";
import { silentLogger } from "../log/logger.ts";
import {
  CRAWLER_MASTER_SERVICE,
  type CrawlerMasterGrpc,
  type LeaderInfoMessage,
  type ListRequestMessage,
  loadCrawlerMasterGrpc,
  type NodeSpecMessage,
  type ResourceDetailMessage,
  type ResourceSpecMessage,
  type TaskCountersMessage,
  type WorkerInfoMessage,
} from "../proto/crawler_grpc.ts";
import { IDEMPOTENCY_KEY_METADATA_KEY } from "../proto/idempotency.ts";
import type { ResourceSpec } from "../proto/resource_spec.ts";
import { recrawlToMessage } from "../proto/worker_report.ts";
import {
  ERROR_KIND_METADATA_KEY,
  errorReply,
  InvalidArgumentError,
  UNEXPECTED_ERROR_KIND,
} from "../errors/mod.ts";
import { FORWARDED_BY_METADATA_KEY } from "./grpc_client.ts";
import type { Master } from "./master.ts";
import { grpcCloser, listenGrpc } from "../proto/grpc_listen.ts";
import type { MasterMetrics } from "./metrics.ts";
import type { ClusterView, TaskCounters, TaskView } from "./cluster_view.ts";
import { pageOf, type PageRequest } from "./paging.ts";
import { parseRequest } from "./validation.ts";
import { resourceNameSchema } from "../proto/api_bodies.ts";

/** Options for {@linkcode startGrpcServer}. */
export interface GrpcServerOptions {
  master: Master;
  /** Interface to listen on; "" or "0.0.0.0" for all. */
  hostname: string;
  /** Port; 0 picks a free one (see `port` on the result). */
  port: number;
  /** The loaded service; default: loads `proto/crawler.proto`. */
  grpc?: CrawlerMasterGrpc;
  metrics?: MasterMetrics;
  /** Answers `GetResource` with what the workers report. Default: the stored resource alone. */
  view?: ClusterView;
  logger?: Logger;
  /**
   * The bearer token every call must carry (docs/operating.md, "Auth"). Default: none, every call
   * is served.
   */
  token?: string;
}

/** A listening gRPC server. */
export interface RunningGrpcServer {
  /** The port it listens on. */
  readonly port: number;
  /** Stops taking calls, lets running ones finish for up to `graceMs` (default 2000), then ends. */
  close(options?: { graceMs?: number }): Promise<void>;
}

type Handler<Req, Res> = (
  request: Req,
  context: { forwardedBy?: string; signal: AbortSignal; token?: string; idempotencyKey?: string },
) => Promise<Res>;

/** Starts the gRPC server and resolves once it listens. */
export async function startGrpcServer(options: GrpcServerOptions): Promise<RunningGrpcServer> {
  const { master, metrics } = options;
  const logger = options.logger ?? silentLogger;
  const { service } = options.grpc ?? loadCrawlerMasterGrpc();
  const server = new grpc.Server({
    interceptors: options.token === undefined ? [] : [
      tokenServerInterceptor(options.token, {
        onRefused: (method, code) => metrics?.countGrpc(method, code),
      }),
    ],
  });

  const unary = <Req, Res>(method: string, handler: Handler<Req, Res>) =>
  (
    call: grpc.ServerUnaryCall<Req, Res>,
    callback: grpc.sendUnaryData<Res>,
  ): void => {
    const fullMethod = `${CRAWLER_MASTER_SERVICE}.${method}`;
    const forwarded = call.metadata.get(FORWARDED_BY_METADATA_KEY)[0];
    const forwardedBy = typeof forwarded === "string" ? forwarded : undefined;
    const key = call.metadata.get(IDEMPOTENCY_KEY_METADATA_KEY)[0];
    const idempotencyKey = typeof key === "string" ? key : undefined;
    // Like the Go project's logWrapper: every call is logged with its parameters.
    logger.info("receive request", {
      method: fullMethod,
      params: call.request,
      ...(forwardedBy ? { forwardedBy } : {}),
      ...(idempotencyKey ? { idempotencyKey } : {}),
    });
    const controller = new AbortController();
    const onCancelled = () => controller.abort(new Error("the caller cancelled the call"));
    call.once("cancelled", onCancelled);
    // The caller's token goes with a write this master forwards to the leader.
    const token = tokenFromMetadata(call.metadata);
    handler(call.request, { forwardedBy, signal: controller.signal, token, idempotencyKey }).then(
      (response) => {
        call.off("cancelled", onCancelled);
        metrics?.countGrpc(fullMethod, "OK");
        callback(null, response);
      },
      (error: unknown) => {
        call.off("cancelled", onCancelled);
        const reply = errorReply(error);
        metrics?.countGrpc(fullMethod, grpc.status[reply.grpcCode] ?? String(reply.grpcCode));
        if (reply.kind === undefined) logger.error("request failed", { method: fullMethod, error });
        const metadata = new grpc.Metadata();
        // Always typed, so a caller can tell an answer from this master from a broken connection.
        metadata.set(ERROR_KIND_METADATA_KEY, reply.kind ?? UNEXPECTED_ERROR_KIND);
        callback({ code: reply.grpcCode, details: reply.message, metadata });
      },
    );
  };

  server.addService(service, {
    AddResource: unary<ResourceSpecMessage, NodeSpecMessage>(
      "AddResource",
      async (request, context) => {
        const node = await master.addResource(addBodyFromMessage(request), context);
        return { id: node.id, Address: node.Address };
      },
    ),
    DeleteResource: unary<ResourceSpecMessage, Record<string, never>>(
      "DeleteResource",
      async (request, context) => {
        await master.deleteResource({ name: request.name }, context);
        return {};
      },
    ),
    ListResources: unary<ListRequestMessage, { resources: ResourceSpecMessage[]; next: string }>(
      "ListResources",
      async (request) => {
        const page = pageOf(await master.listResources(), (r) => r.Name, pageRequest(request));
        return { resources: page.items.map(resourceToMessage), next: page.next ?? "" };
      },
    ),
    ListWorkers: unary<ListRequestMessage, { workers: WorkerInfoMessage[]; next: string }>(
      "ListWorkers",
      async (request) => {
        const page = pageOf(await master.listWorkers(), (w) => w.id, pageRequest(request));
        return {
          workers: page.items.map((w) => ({
            id: w.id,
            address: w.address,
            http_address: w.httpAddress,
            start_time: w.startTime,
            payload: w.payload,
          })),
          next: page.next ?? "",
        };
      },
    ),
    GetResource: unary<ResourceSpecMessage, ResourceDetailMessage>(
      "GetResource",
      async (request) => {
        const name = parseRequest(resourceNameSchema, request.name);
        const resource = await master.getResource(name);
        return resourceDetailMessage(options.view?.describe(resource), resource);
      },
    ),
    PauseResource: unary<ResourceSpecMessage, ResourceSpecMessage>(
      "PauseResource",
      async (request, context) =>
        resourceToMessage(await master.setPaused({ name: request.name }, true, context)),
    ),
    ResumeResource: unary<ResourceSpecMessage, ResourceSpecMessage>(
      "ResumeResource",
      async (request, context) =>
        resourceToMessage(await master.setPaused({ name: request.name }, false, context)),
    ),
    GetLeader: unary<unknown, LeaderInfoMessage>("GetLeader", () => {
      const status = master.status();
      return Promise.resolve({
        leader: status.leader ?? "",
        self: status.self,
        is_leader: status.isLeader,
      });
    }),
  });

  const port = await listenGrpc(server, options.hostname, options.port);
  return { port, close: grpcCloser(server, 2000) };
}

/**
 * The add request in a `ResourceSpec` message: `spec` is TaskSpec JSON (empty for none). The
 * master validates the result as it validates an HTTP body.
 */
function addBodyFromMessage(message: ResourceSpecMessage): Record<string, unknown> {
  let spec: unknown;
  if (message.spec) {
    try {
      spec = JSON.parse(message.spec);
    } catch (error) {
      throw new InvalidArgumentError(`spec: not valid JSON (${(error as Error).message})`);
    }
  }
  return {
    ...(message.id ? { id: message.id } : {}),
    name: message.name,
    ...(spec === undefined ? {} : { spec }),
  };
}

function resourceToMessage(resource: ResourceSpec): ResourceSpecMessage {
  return {
    id: resource.ID,
    name: resource.Name,
    assigned_node: resource.AssignedNode,
    creation_time: String(resource.CreationTime),
    spec: resource.Spec ? JSON.stringify(resource.Spec) : "",
    paused: resource.Paused === true,
    placements: resource.Placements ?? [],
  };
}

function pageRequest(request: ListRequestMessage | null | undefined): PageRequest {
  return { limit: request?.limit ?? 0, ...(request?.after ? { after: request.after } : {}) };
}

function countersMessage(c: TaskCounters): TaskCountersMessage {
  return {
    fetched: c.fetched,
    failed: c.failed,
    retried: c.retried,
    items: c.items,
    queued: c.queued,
    leased: c.leased,
    stalled: c.stalled ?? "",
    sitemaps: c.sitemaps ?? 0,
    sitemap_urls: c.sitemapUrls ?? 0,
    render: c.render ? { ...c.render } : null,
    recrawl: c.recrawl ? recrawlToMessage(c.recrawl) : null,
  };
}

/** `ResourceDetail`: the resource and, when the view knows them, its workers' reports. */
function resourceDetailMessage(
  view: TaskView | undefined,
  resource: ResourceSpec,
): ResourceDetailMessage {
  return {
    resource: resourceToMessage(resource),
    state: view?.state ?? (resource.Paused ? "paused" : "not reported"),
    totals: countersMessage(view?.totals ?? ZERO_COUNTERS),
    pages_per_second: view?.pagesPerSecond ?? 0,
    placements: (view?.placements ?? []).map((p) => ({
      worker_id: p.workerId,
      address: p.address,
      state: p.state,
      error: p.error ?? "",
      counters: p.counters ? countersMessage(p.counters) : null,
    })),
    errors: (view?.errors ?? []).map((e) => ({
      url: e.url,
      error: e.error,
      at: e.at,
      worker_id: e.workerId,
    })),
    hosts: view?.hosts ?? [],
  };
}

const ZERO_COUNTERS: TaskCounters = {
  fetched: 0,
  failed: 0,
  retried: 0,
  items: 0,
  queued: 0,
  leased: 0,
};
