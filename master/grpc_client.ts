/**
 * @module
 * gRPC clients of the master's `CrawlerMaster` service: {@linkcode MasterGrpcClient} for one
 * master, and {@linkcode GrpcLeaderClient}, the follower's way to forward writes to the leader.
 * Every call has a deadline; failures come back as the master's error types.
 */
import * as grpc from "@grpc/grpc-js";
import type {
  AddResourceRequest,
  AddResourceResponse,
  DeleteResourceRequest,
  LeaderResponse,
  WorkerStatus,
} from "../proto/api_bodies.ts";
import {
  type CrawlerMasterGrpc,
  type EmptyMessage,
  type LeaderInfoMessage,
  type ListRequestMessage,
  loadCrawlerMasterGrpc,
  type NodeSpecMessage,
  type ResourceDetailMessage,
  type ResourceSpecMessage,
  type WorkerInfoMessage,
} from "../proto/crawler_grpc.ts";
import { IDEMPOTENCY_KEY_METADATA_KEY, newIdempotencyKey } from "../proto/idempotency.ts";
import { type ResourceSpec, resourceSpecSchema } from "../proto/resource_spec.ts";
import { setTokenMetadata } from "../auth/grpc_token.ts";
import { ERROR_KIND_METADATA_KEY, errorFromGrpc } from "../errors/mod.ts";
import type { ForwardOptions, LeaderClient } from "./leader_client.ts";

/** The metadata key a forwarding master puts its id under (the leader's loop guard). */
export const FORWARDED_BY_METADATA_KEY = "x-crawler-forwarded-by";

/** Options of one call. */
export interface GrpcCallOptions {
  /** Deadline from now. Default: the client's `timeoutMs`. */
  timeoutMs?: number;
  /** Cancels the call. */
  signal?: AbortSignal;
  /** Marks the call as forwarded by this master id. */
  forwardedBy?: string;
  /** The bearer token of this call (a forwarded caller's). Default: the client's `token`. */
  token?: string;
  /**
   * A write's idempotency key (gRPC metadata `idempotency-key`). Pass the same one when you
   * retry a write whose outcome is unknown (UNAVAILABLE, no answer): it is then answered as the
   * first attempt was, not applied twice. Default: a new key per call (reads send none).
   */
  idempotencyKey?: string;
}

/** Options for {@linkcode MasterGrpcClient}. */
export interface MasterGrpcClientOptions {
  /** The loaded service; default: loads `proto/crawler.proto`. */
  grpc?: CrawlerMasterGrpc;
  /** Default deadline of a call, in ms. Default: 10000. */
  timeoutMs?: number;
  /** The bearer token sent with every call (docs/operating.md, "Auth"). Default: none. */
  token?: string;
}

type UnaryMethod = (
  request: unknown,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null, response: unknown) => void,
) => grpc.ClientUnaryCall;

/**
 * A client of one master's gRPC API, with the HTTP API's shapes. Every write carries an
 * idempotency key (a new one unless the call names one), so a retry with the same key is safe.
 *
 * @example
 * ```ts
 * const client = new MasterGrpcClient("127.0.0.1:9091", { timeoutMs: 3000 });
 * try {
 *   const node = await client.addResource({ name: "douban_book_list" });
 * } finally {
 *   client.close();
 * }
 * ```
 */
export class MasterGrpcClient {
  readonly address: string;
  readonly #client: grpc.Client;
  readonly #timeoutMs: number;
  readonly #token: string | undefined;

  constructor(address: string, options: MasterGrpcClientOptions = {}) {
    this.address = address;
    const { Client } = options.grpc ?? loadCrawlerMasterGrpc();
    this.#client = new Client(address, grpc.credentials.createInsecure(), {
      // A channel of its own, so `close()` ends its HTTP/2 session at once instead of leaving
      // it idle in grpc-js' shared pool (see GrpcLeaderClient for why idle sessions matter).
      "grpc.use_local_subchannel_pool": 1,
      // A master that was just restarted should be dialled again at once, not after grpc-js'
      // default reconnect backoff (up to 2 minutes): failover depends on it.
      "grpc.initial_reconnect_backoff_ms": 100,
      "grpc.max_reconnect_backoff_ms": 1000,
    });
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#token = options.token;
  }

  /** `AddResource`: the worker the resource went to. */
  async addResource(
    request: AddResourceRequest,
    options: GrpcCallOptions = {},
  ): Promise<AddResourceResponse> {
    const message: ResourceSpecMessage = {
      id: request.id ?? "",
      name: request.name,
      assigned_node: "",
      creation_time: "0",
      spec: request.spec ? JSON.stringify(request.spec) : "",
    };
    const node = await this.#call<NodeSpecMessage>("AddResource", message, keyed(options));
    return { id: node.id, Address: node.Address };
  }

  /** `DeleteResource`. */
  async deleteResource(
    request: DeleteResourceRequest,
    options: GrpcCallOptions = {},
  ): Promise<void> {
    await this.#call<EmptyMessage>("DeleteResource", { name: request.name }, keyed(options));
  }

  /** `ListResources`: every resource, as the HTTP API lists them (one page: see `page`). */
  async listResources(options: GrpcCallOptions = {}): Promise<ResourceSpec[]> {
    return (await this.listResourcesPage({}, options)).resources;
  }

  /** `ListResources` with paging: at most `limit` resources named after `after`, and `next`. */
  async listResourcesPage(
    page: ListRequestMessage,
    options: GrpcCallOptions = {},
  ): Promise<{ resources: ResourceSpec[]; next?: string }> {
    const list = await this.#call<{ resources: ResourceSpecMessage[]; next: string }>(
      "ListResources",
      page,
      options,
    );
    return {
      resources: list.resources.map(resourceFromMessage),
      ...(list.next ? { next: list.next } : {}),
    };
  }

  /** `GetResource`: a resource by name with what its workers report (`NotFoundError` if none). */
  getResource(name: string, options: GrpcCallOptions = {}): Promise<ResourceDetailMessage> {
    return this.#call<ResourceDetailMessage>("GetResource", { name }, options);
  }

  /** `PauseResource` (`paused`) or `ResumeResource`: answers the stored resource. */
  async setPaused(
    request: DeleteResourceRequest,
    paused: boolean,
    options: GrpcCallOptions = {},
  ): Promise<ResourceSpec> {
    const method = paused ? "PauseResource" : "ResumeResource";
    const answer = await this.#call<ResourceSpecMessage>(
      method,
      { name: request.name },
      keyed(options),
    );
    return resourceFromMessage(answer);
  }

  /** `ListWorkers`: the registered workers with their payloads (one page). */
  async listWorkers(
    options: GrpcCallOptions & ListRequestMessage = {},
  ): Promise<WorkerStatus[]> {
    const page = { limit: options.limit ?? 0, after: options.after ?? "" };
    const list = await this.#call<{ workers: WorkerInfoMessage[] }>("ListWorkers", page, options);
    return list.workers.map((w) => ({
      id: w.id,
      address: w.address,
      httpAddress: w.http_address,
      startTime: w.start_time,
      payload: w.payload,
    }));
  }

  /** `GetLeader`: who leads, as that master sees it. */
  async getLeader(options: GrpcCallOptions = {}): Promise<LeaderResponse> {
    const info = await this.#call<LeaderInfoMessage>("GetLeader", {}, options);
    return { leader: info.leader || null, self: info.self, isLeader: info.is_leader };
  }

  /** Closes the channel. */
  close(): void {
    this.#client.close();
  }

  #call<T>(method: string, request: unknown, options: GrpcCallOptions): Promise<T> {
    const { signal } = options;
    return new Promise<T>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const metadata = new grpc.Metadata();
      if (options.forwardedBy) metadata.set(FORWARDED_BY_METADATA_KEY, options.forwardedBy);
      setTokenMetadata(metadata, options.token ?? this.#token);
      if (options.idempotencyKey !== undefined) {
        metadata.set(IDEMPOTENCY_KEY_METADATA_KEY, options.idempotencyKey);
      }
      const fn = (this.#client as unknown as Record<string, UnaryMethod>)[method];
      const onAbort = () => call.cancel();
      const call = fn.call(
        this.#client,
        request,
        metadata,
        { deadline: Date.now() + (options.timeoutMs ?? this.#timeoutMs) },
        (error, response) => {
          signal?.removeEventListener("abort", onAbort);
          if (error) reject(toMasterError(error, this.address));
          else resolve(response as T);
        },
      );
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}

/**
 * The follower's {@linkcode LeaderClient}. Each forwarded write gets a channel of its own that is
 * closed when the call ends. Writes are rare, so the extra connection costs little; a channel
 * kept open would sit idle between writes, and Deno 2.9 can crash the whole process when an idle
 * `node:http2` client session receives a GOAWAY (denoland/deno#36788), which is exactly what a
 * leader that shuts down gracefully sends to every open channel.
 */
export class GrpcLeaderClient implements LeaderClient {
  readonly #grpc: CrawlerMasterGrpc;
  /** One channel, to the current leader's address, reused for every forwarded write. */
  #client: { address: string; client: MasterGrpcClient } | undefined;

  constructor(options: { grpc?: CrawlerMasterGrpc } = {}) {
    this.#grpc = options.grpc ?? loadCrawlerMasterGrpc();
  }

  addResource(
    address: string,
    request: AddResourceRequest,
    options: ForwardOptions,
  ): Promise<AddResourceResponse> {
    return this.#clientFor(address).addResource(request, options);
  }

  deleteResource(
    address: string,
    request: DeleteResourceRequest,
    options: ForwardOptions,
  ): Promise<void> {
    return this.#clientFor(address).deleteResource(request, options);
  }

  setPaused(
    address: string,
    request: DeleteResourceRequest,
    paused: boolean,
    options: ForwardOptions,
  ): Promise<ResourceSpec> {
    return this.#clientFor(address).setPaused(request, paused, options);
  }

  /** Closes the channel; calls still running fail with CANCELLED. */
  close(): void {
    this.#client?.client.close();
    this.#client = undefined;
  }

  /**
   * The channel is kept open rather than opened per write: closing a channel sends an HTTP/2
   * GOAWAY, and Deno 2.9 aborts the receiving process when GOAWAYs and new sessions come in
   * quick succession (denoland/deno#36788; reproduced here with a close + reopen per call).
   * A channel is closed only when the leader moves to another address.
   */
  #clientFor(address: string): MasterGrpcClient {
    if (this.#client?.address !== address) {
      this.close();
      this.#client = { address, client: new MasterGrpcClient(address, { grpc: this.#grpc }) };
    }
    return this.#client.client;
  }
}

/** A write's call options, with an idempotency key: the caller's, else a new one. */
function keyed(options: GrpcCallOptions): GrpcCallOptions {
  return { ...options, idempotencyKey: options.idempotencyKey ?? newIdempotencyKey() };
}

function toMasterError(error: grpc.ServiceError, address: string): Error {
  const kind = error.metadata?.get(ERROR_KIND_METADATA_KEY)[0];
  const message = error.details || error.message;
  const mapped = errorFromGrpc(
    error.code,
    kind === undefined ? `${address}: ${message}` : message,
    typeof kind === "string" ? kind : undefined,
  );
  mapped.cause = error;
  return mapped;
}

function resourceFromMessage(message: ResourceSpecMessage): ResourceSpec {
  return resourceSpecSchema.parse({
    ID: message.id,
    Name: message.name,
    AssignedNode: message.assigned_node,
    CreationTime: Number(message.creation_time),
    ...(message.placements?.length ? { Placements: message.placements } : {}),
    ...(message.spec ? { Spec: JSON.parse(message.spec) } : {}),
    ...(message.paused ? { Paused: true } : {}),
  });
}
