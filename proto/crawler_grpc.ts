/**
 * @module
 * Loads `crawler.proto` for `@grpc/grpc-js` and types the messages the master's gRPC server and
 * client exchange. The path is resolved from this module's URL, so it works from the source tree
 * and from a `deno compile --include proto/crawler.proto` executable alike.
 */
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { fileURLToPath } from "node:url";

/** `ResourceSpec` on the wire (field names as in the .proto: `keepCase`). */
export interface ResourceSpecMessage {
  id: string;
  name: string;
  assigned_node: string;
  /** int64, as a decimal string (`longs: String`). */
  creation_time: string;
  /** TaskSpec JSON, or "" for none. */
  spec: string;
  /** Every placement when there are several; empty otherwise (absent in requests). */
  placements?: string[];
  /** True while the task is paused (absent in requests: false). */
  paused?: boolean;
}

/** `ListRequest`: a page of a list (`limit` 0: the server's default). */
export interface ListRequestMessage {
  limit?: number;
  after?: string;
}

/** `TaskCounters` on the wire. */
export interface TaskCountersMessage {
  fetched: string | number;
  failed: string | number;
  retried: string | number;
  items: string | number;
  queued: string | number;
  leased: string | number;
  /** Empty while every placement makes progress. */
  stalled?: string;
  sitemaps?: string | number;
  sitemap_urls?: string | number;
  /** Unset (null once decoded) for a task that renders no page. */
  render?: RenderStatsMessage | null;
  /** Unset (null once decoded) for a task that does not recrawl. */
  recrawl?: RecrawlStatsMessage | null;
}

/** `TaskError` on the wire. */
export interface TaskErrorMessage {
  url: string;
  error: string;
  at: string | number;
  worker_id?: string;
}

/** `HostActivity` on the wire. */
export interface HostActivityMessage {
  host: string;
  fetched: string | number;
  failed: string | number;
  throttled?: number | string;
  disallowed?: number | string;
  delay_ms?: number | string;
  blocked_until?: number | string;
}

/** `Placement` on the wire. */
export interface PlacementMessage {
  worker_id: string;
  address: string;
  state: string;
  error: string;
  counters: TaskCountersMessage | null;
}

/** `ResourceDetail` on the wire. */
export interface ResourceDetailMessage {
  resource: ResourceSpecMessage;
  state: string;
  totals: TaskCountersMessage;
  pages_per_second: number;
  placements: PlacementMessage[];
  errors: TaskErrorMessage[];
  hosts: HostActivityMessage[];
}

/** `NodeSpec` on the wire. */
export interface NodeSpecMessage {
  id: string;
  Address: string;
}

/** `WorkerInfo` on the wire. */
export interface WorkerInfoMessage {
  id: string;
  address: string;
  http_address: string;
  start_time: string;
  payload: number;
}

/** `LeaderInfo` on the wire. */
export interface LeaderInfoMessage {
  leader: string;
  self: string;
  is_leader: boolean;
}

/** `google.protobuf.Empty`. */
export type EmptyMessage = Record<string, never>;

/** The loaded `crawler.CrawlerMaster` service: its definition and a client constructor. */
export interface CrawlerMasterGrpc {
  service: grpc.ServiceDefinition;
  Client: grpc.ServiceClientConstructor;
}

/** Name of the service, for logs and metrics (`CrawlerMaster.AddResource`). */
export const CRAWLER_MASTER_SERVICE = "CrawlerMaster";

/**
 * Loads the service from `crawler.proto` beside this module. Each call parses the file again:
 * callers load it once at startup and pass the result on (no module-level cache to share).
 */
export function loadCrawlerMasterGrpc(): CrawlerMasterGrpc {
  return loadService("CrawlerMaster");
}

/** `TaskStatus` on the wire (int64 counters as decimal strings, `longs: String`). */
export interface TaskStatusMessage {
  name: string;
  id: string;
  state: string;
  error: string;
  fetched: string | number;
  failed: string | number;
  items: string | number;
  queued: string | number;
  in_flight: string | number;
  retried?: string | number;
  started_at?: string | number;
  finished_at?: string | number;
  errors?: TaskErrorMessage[];
  hosts?: HostActivityMessage[];
  leased?: string | number;
  stalled?: string;
  sitemaps?: string | number;
  sitemap_urls?: string | number;
  /** Unset (null once decoded) for a task that renders no page. */
  render?: RenderStatsMessage | null;
  /** Unset (null once decoded) for a task that does not recrawl. */
  recrawl?: RecrawlStatsMessage | null;
}

/** `RenderStats` on the wire. */
export interface RenderStatsMessage {
  rendered: string | number;
  failed: string | number;
  seconds: Array<string | number>;
  open: string | number;
  restarts: string | number;
}

/** `RecrawlStats` on the wire: a recrawl task's revisits and schedule. */
export interface RecrawlStatsMessage {
  revisits: string | number;
  not_modified: string | number;
  unchanged: string | number;
  changed: string | number;
  scheduled: string | number;
  due: string | number;
  /** Ms since the epoch; 0 while nothing is scheduled. */
  next_due_at: string | number;
}

/** `WorkerStatus` on the wire. */
export interface WorkerStatusMessage {
  id: string;
  ready: boolean;
  tasks: TaskStatusMessage[];
}

/** The loaded `crawler.CrawlerWorker` service (a worker's `Status`). */
export type CrawlerWorkerGrpc = CrawlerMasterGrpc;

/** Loads `crawler.CrawlerWorker` from `crawler.proto`, like {@linkcode loadCrawlerMasterGrpc}. */
export function loadCrawlerWorkerGrpc(): CrawlerWorkerGrpc {
  return loadService("CrawlerWorker");
}

function loadService(name: "CrawlerMaster" | "CrawlerWorker"): CrawlerMasterGrpc {
  const path = fileURLToPath(new URL("./crawler.proto", import.meta.url));
  const definition = protoLoader.loadSync(path, {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const loaded = grpc.loadPackageDefinition(definition);
  const crawler = loaded.crawler as grpc.GrpcObject;
  const Client = crawler[name] as grpc.ServiceClientConstructor;
  return { service: Client.service, Client };
}
