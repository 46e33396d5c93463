/**
 * @module
 * The worker's gRPC server (`crawler.CrawlerWorker`): answers `Status` on the address the
 * worker registers, so the `Address` masters hand out reaches a live service.
 */
import * as grpc from "@grpc/grpc-js";
import {
  type CrawlerWorkerGrpc,
  loadCrawlerWorkerGrpc,
  type WorkerStatusMessage,
} from "../proto/crawler_grpc.ts";
import type { AssignmentStatus } from "./cluster_worker.ts";
import { grpcCloser, listenGrpc } from "../proto/grpc_listen.ts";
import { tokenServerInterceptor } from "../auth/grpc_token.ts";
import { workerReportToMessage } from "../proto/worker_report.ts";

export interface WorkerGrpcOptions {
  hostname: string;
  /** 0 picks a free port (see `port` on the result). */
  port: number;
  workerId: string;
  tasks: () => AssignmentStatus[];
  ready: () => boolean;
  grpc?: CrawlerWorkerGrpc;
  /**
   * The bearer token every call must carry (docs/operating.md, "Auth"). Default: none, every call
   * is served.
   */
  token?: string;
}

export interface RunningWorkerGrpc {
  readonly port: number;
  /** Stops the server; calls still running after `graceMs` (default 1000) are cut off. */
  close(options?: { graceMs?: number }): Promise<void>;
}

/** The `WorkerStatus` message for the worker's current tasks. */
export function workerStatusMessage(
  workerId: string,
  ready: boolean,
  tasks: AssignmentStatus[],
): WorkerStatusMessage {
  return workerReportToMessage({ id: workerId, ready, tasks });
}

/** Starts the server and resolves once it listens; rejects when it cannot bind. */
export async function startWorkerGrpc(options: WorkerGrpcOptions): Promise<RunningWorkerGrpc> {
  const { service } = options.grpc ?? loadCrawlerWorkerGrpc();
  const server = new grpc.Server({
    interceptors: options.token === undefined ? [] : [tokenServerInterceptor(options.token)],
  });
  server.addService(service, {
    Status: (
      _call: grpc.ServerUnaryCall<unknown, WorkerStatusMessage>,
      callback: grpc.sendUnaryData<WorkerStatusMessage>,
    ) => callback(null, workerStatusMessage(options.workerId, options.ready(), options.tasks())),
  });
  const port = await listenGrpc(server, options.hostname, options.port);
  return { port, close: grpcCloser(server, 1000) };
}
