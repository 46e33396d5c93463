/**
 * @module
 * The master role: election and assignment ({@linkcode Master}), its HTTP app and gRPC server
 * and client, the cluster view and dashboard, the items export route, and
 * `runMaster` for `crawler master`.
 */
export {
  Master,
  type MasterOptions,
  type MasterStatus,
  type RebalanceOptions,
  type RequestOptions,
} from "./master.ts";
export { type AppDeps, createApp, DEFAULT_BODY_LIMIT_BYTES } from "./http_app.ts";
export { type GrpcServerOptions, type RunningGrpcServer, startGrpcServer } from "./grpc_server.ts";
export {
  FORWARDED_BY_METADATA_KEY,
  type GrpcCallOptions,
  GrpcLeaderClient,
  MasterGrpcClient,
  type MasterGrpcClientOptions,
} from "./grpc_client.ts";
export type { ForwardOptions, LeaderClient } from "./leader_client.ts";
export { Snowflake, snowflakeNodeFromMasterId } from "./snowflake.ts";
export { pickLeastLoaded, type WorkerLoad } from "./assignment.ts";
export { LeaderState, type PlacementMove, type WorkerEntry } from "./leader_state.ts";
export { DEFAULT_IDEMPOTENCY_WINDOW_MS } from "./leader_writes.ts";
export { type MasterGauges, MasterMetrics } from "./metrics.ts";
export {
  DEFAULT_MASTER_GRPC,
  DEFAULT_MASTER_HTTP,
  type MasterSettings,
  resolveMasterSettings,
  runMaster,
  type RunMasterOptions,
} from "./run_master.ts";
export {
  type ClusterSnapshot,
  ClusterView,
  type ClusterViewOptions,
  type TaskView,
  type WorkerView,
} from "./cluster_view.ts";
export { GrpcWorkerStatusSource, type WorkerStatusSource } from "./worker_status_source.ts";
export { MAX_PAGE_SIZE, type Page, pageOf, type PageRequest } from "./paging.ts";
export { dashboardPage } from "./dashboard_page.ts";
export { addItemsRoute, type ItemsRouteDeps } from "./items_route.ts";
export { WorkerResultReader, type WorkerResultReaderOptions } from "./worker_result_reader.ts";
