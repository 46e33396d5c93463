/**
 * @module
 * Fault policies for etcd3's connection pool: a per-host breaker that makes the pool skip an
 * endpoint whose connection just failed, and a pass-through global policy (the store retries
 * with its own backoff in `callEtcd`).
 */

import type { IOptions } from "etcd3";
import { EndpointCoolingDownError, isBrokenConnection } from "./_etcd_kv.ts";

type FaultPolicy = NonNullable<NonNullable<IOptions["faultHandling"]>["global"]>;

/**
 * A policy that just runs the call. etcd3's defaults retry at once and open a 5 s circuit per
 * host after three failures, which would keep the store away from an etcd that is back and let
 * leases expire meanwhile. The cast is needed because the policy type belongs to `cockatiel`,
 * which this project does not import; etcd3 only ever calls `execute`.
 */
export function passThroughPolicy(): FaultPolicy {
  return {
    execute: <T>(
      fn: (context: { signal: AbortSignal }) => PromiseLike<T> | T,
      signal?: AbortSignal,
    ): Promise<T> =>
      Promise.resolve().then(() => fn({ signal: signal ?? new AbortController().signal })),
  } as unknown as FaultPolicy;
}

/**
 * A per-host policy: after a broken connection the host is skipped for `cooldownMs`, so with
 * several endpoints calls go to the ones that answer instead of picking a dead one at random.
 * etcd3's pool moves on to the next host when a policy refuses without calling through.
 */
export function hostBreakerPolicy(host: string, cooldownMs: number): FaultPolicy {
  let retryAt = 0;
  return {
    async execute<T>(
      fn: (context: { signal: AbortSignal }) => PromiseLike<T> | T,
      signal?: AbortSignal,
    ): Promise<T> {
      if (Date.now() < retryAt) throw new EndpointCoolingDownError(host, retryAt);
      try {
        const result = await fn({ signal: signal ?? new AbortController().signal });
        retryAt = 0;
        return result;
      } catch (error) {
        if (isBrokenConnection(error)) retryAt = Date.now() + cooldownMs;
        throw error;
      }
    },
  } as unknown as FaultPolicy;
}
