/**
 * @module
 * How a master asks a worker what it is doing: {@linkcode WorkerStatusSource}, and the real one,
 * {@linkcode GrpcWorkerStatusSource}, which calls the worker's `CrawlerWorker.Status` with a
 * deadline. `crawler dev` passes an in-process source instead (its worker has no gRPC port).
 */
import * as grpc from "@grpc/grpc-js";
import {
  type CrawlerWorkerGrpc,
  loadCrawlerWorkerGrpc,
  type WorkerStatusMessage,
} from "../proto/crawler_grpc.ts";
import { type WorkerReport, workerReportFromMessage } from "../proto/worker_report.ts";

/** A worker to ask: its id and gRPC address (`host:port`), as registered. */
export interface WorkerAddress {
  id: string;
  address: string;
}

/** Options of one status call. */
export interface StatusCallOptions {
  /** Deadline from now, ms. */
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Answers what a worker is doing. Rejects when the worker cannot be reached in time. */
export interface WorkerStatusSource {
  status(worker: WorkerAddress, options: StatusCallOptions): Promise<WorkerReport>;
  /** Drops connections to workers not in `keep` (they left the cluster). */
  retain?(keep: ReadonlySet<string>): void;
  close(): void;
}

/** Options for {@linkcode GrpcWorkerStatusSource}. */
export interface GrpcWorkerStatusSourceOptions {
  grpc?: CrawlerWorkerGrpc;
  /** The cluster's API token, sent as `authorization: Bearer <token>`. Default: none. */
  token?: string;
}

/**
 * Calls `CrawlerWorker.Status` over gRPC, one channel per worker address, kept open between
 * polls: closing and reopening channels in quick succession is what makes Deno 2.9 crash on
 * HTTP/2 GOAWAY frames (see `GrpcLeaderClient`).
 */
export class GrpcWorkerStatusSource implements WorkerStatusSource {
  readonly #grpc: CrawlerWorkerGrpc;
  readonly #metadata: () => grpc.Metadata;
  readonly #clients = new Map<string, grpc.Client>();

  constructor(options: GrpcWorkerStatusSourceOptions = {}) {
    this.#grpc = options.grpc ?? loadCrawlerWorkerGrpc();
    const token = options.token;
    this.#metadata = () => {
      const metadata = new grpc.Metadata();
      if (token !== undefined) metadata.set("authorization", `Bearer ${token}`);
      return metadata;
    };
  }

  status(worker: WorkerAddress, options: StatusCallOptions): Promise<WorkerReport> {
    const client = this.#clientFor(worker.address);
    return new Promise((resolve, reject) => {
      if (options.signal?.aborted) {
        reject(options.signal.reason);
        return;
      }
      const onAbort = () => call.cancel();
      const call = (client as unknown as {
        Status: (
          request: unknown,
          metadata: grpc.Metadata,
          callOptions: grpc.CallOptions,
          callback: (error: grpc.ServiceError | null, answer: WorkerStatusMessage) => void,
        ) => grpc.ClientUnaryCall;
      }).Status(
        {},
        this.#metadata(),
        { deadline: Date.now() + options.timeoutMs },
        (error, answer) => {
          options.signal?.removeEventListener("abort", onAbort);
          if (error) {
            reject(
              new Error(
                `worker ${worker.id} at ${worker.address}: ${error.details || error.message}`,
                {
                  cause: error,
                },
              ),
            );
          } else resolve(workerReportFromMessage(answer));
        },
      );
      options.signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  retain(keep: ReadonlySet<string>): void {
    for (const [address, client] of this.#clients) {
      if (!keep.has(address)) {
        client.close();
        this.#clients.delete(address);
      }
    }
  }

  close(): void {
    for (const client of this.#clients.values()) client.close();
    this.#clients.clear();
  }

  #clientFor(address: string): grpc.Client {
    let client = this.#clients.get(address);
    if (!client) {
      client = new this.#grpc.Client(address, grpc.credentials.createInsecure(), {
        "grpc.use_local_subchannel_pool": 1,
        // A restarted worker is dialled again at the next poll, not after minutes of backoff.
        "grpc.initial_reconnect_backoff_ms": 200,
        "grpc.max_reconnect_backoff_ms": 2000,
      });
      this.#clients.set(address, client);
    }
    return client;
  }
}
