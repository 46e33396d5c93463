/**
 * @module
 * A follower's way to the leader ({@linkcode LeaderForwarder}): decides whether a write may be
 * forwarded and sends it over the {@linkcode LeaderClient}, relaying the leader's answer.
 */
import type { Logger } from "../log/logger.ts";
import type {
  AddResourceRequest,
  AddResourceResponse,
  DeleteResourceRequest,
} from "../proto/api_bodies.ts";
import { parseMasterId } from "../proto/master_id.ts";
import type { ResourceSpec } from "../proto/resource_spec.ts";
import { NotLeaderError } from "../errors/mod.ts";
import type { ForwardOptions, LeaderClient } from "./leader_client.ts";

/** Options for {@linkcode LeaderForwarder}. */
export interface LeaderForwarderOptions {
  /** This master's id: the leader sees it as `forwardedBy`. */
  self: string;
  /** The leader's id as this master observes it, or undefined while none is known. */
  leader: () => string | undefined;
  /** Reaches the leader. Without one, every forward is a `NotLeaderError` (503). */
  client: LeaderClient | undefined;
  /** Deadline of a forwarded call, ms. */
  timeoutMs: number;
  logger: Logger;
}

/** Per-call options: who forwarded the request to us (if anyone), and cancellation. */
export interface ForwardRequestOptions {
  forwardedBy?: string;
  signal?: AbortSignal;
  /** The caller's bearer token, sent on to the leader. */
  token?: string;
  /** Deadline of this call, ms. Default: the forwarder's `timeoutMs`. */
  timeoutMs?: number;
  /** The write's idempotency key, sent on to the leader. */
  idempotencyKey?: string;
}

/** Forwards writes from a follower to the leader. */
export class LeaderForwarder {
  readonly #options: LeaderForwarderOptions;

  constructor(options: LeaderForwarderOptions) {
    this.#options = options;
  }

  /** Forwards an add; the leader's answer or error comes back as is. */
  async addResource(
    request: AddResourceRequest,
    options: ForwardRequestOptions,
  ): Promise<AddResourceResponse> {
    const { client, address, forward } = this.#target(options);
    return await client.addResource(address, request, forward);
  }

  /** Forwards a delete. */
  async deleteResource(
    request: DeleteResourceRequest,
    options: ForwardRequestOptions,
  ): Promise<void> {
    const { client, address, forward } = this.#target(options);
    await client.deleteResource(address, request, forward);
  }

  /** Forwards a pause (`paused` true) or a resume; the leader answers with the stored resource. */
  async setPaused(
    request: DeleteResourceRequest,
    paused: boolean,
    options: ForwardRequestOptions,
  ): Promise<ResourceSpec> {
    const { client, address, forward } = this.#target(options);
    return await client.setPaused(address, request, paused, forward);
  }

  /** Where and how to forward a write; throws when it must not or cannot be forwarded. */
  #target(
    options: ForwardRequestOptions,
  ): { client: LeaderClient; address: string; forward: ForwardOptions } {
    const { self, client, timeoutMs, logger } = this.#options;
    const leader = this.#options.leader();
    if (options.forwardedBy !== undefined) {
      // Loop guard: a forwarded request reached a master that does not lead (leadership moved
      // while it travelled). Forwarding it again could bounce it around; the caller retries.
      throw new NotLeaderError(
        `master ${self} is not the leader (leader: ${leader ?? "none"}); ` +
          `a request forwarded by ${options.forwardedBy} is not forwarded again; retry`,
      );
    }
    if (leader === undefined) throw new NotLeaderError("no leader is elected yet; retry");
    const address = parseMasterId(leader)?.address;
    if (!address) throw new NotLeaderError(`the leader id "${leader}" has no address`);
    if (!client) throw new NotLeaderError(`this master cannot forward to the leader ${leader}`);
    logger.debug("forward request to leader", { leader });
    return {
      client,
      address,
      forward: {
        timeoutMs: Math.min(timeoutMs, options.timeoutMs ?? timeoutMs),
        forwardedBy: self,
        signal: options.signal,
        token: options.token,
        ...(options.idempotencyKey === undefined ? {} : { idempotencyKey: options.idempotencyKey }),
      },
    };
  }
}
