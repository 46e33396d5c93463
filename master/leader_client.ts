/**
 * @module
 * How a follower reaches the leader: the {@linkcode LeaderClient} interface the master forwards
 * writes through. `GrpcLeaderClient` (in `grpc_client.ts`) is the real one; tests may pass their own.
 */
import type {
  AddResourceRequest,
  AddResourceResponse,
  DeleteResourceRequest,
} from "../proto/api_bodies.ts";
import type { ResourceSpec } from "../proto/resource_spec.ts";

/** Options of one forwarded call. */
export interface ForwardOptions {
  /** The call's deadline, from now. */
  timeoutMs: number;
  /** The forwarding master's id: the leader must not forward the request again. */
  forwardedBy: string;
  /** Cancels the call. */
  signal?: AbortSignal;
  /** The caller's bearer token, sent on to the leader. */
  token?: string;
  /** The write's idempotency key: every try of one write carries the same. */
  idempotencyKey?: string;
}

/**
 * Sends a write to the leader at `address` (`host:grpcPort`) and returns its answer. Errors come
 * back as the master's error types (`ConflictError`, `NotFoundError`...); a leader that cannot be
 * reached is a `NotLeaderError`.
 */
export interface LeaderClient {
  addResource(
    address: string,
    request: AddResourceRequest,
    options: ForwardOptions,
  ): Promise<AddResourceResponse>;
  deleteResource(
    address: string,
    request: DeleteResourceRequest,
    options: ForwardOptions,
  ): Promise<void>;
  /** Pauses (`paused`) or resumes a resource; answers the stored resource. */
  setPaused(
    address: string,
    request: DeleteResourceRequest,
    paused: boolean,
    options: ForwardOptions,
  ): Promise<ResourceSpec>;
  /** Closes connections. */
  close(): void;
}
