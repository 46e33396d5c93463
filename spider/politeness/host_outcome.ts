/**
 * @module
 * What a fetch's result means for its host's schedule.
 */
import type { HostOutcome } from "./host_state.ts";
import { retryAfterMs } from "./retry_after.ts";

/** The parts of a failed fetch the schedule reads (a `FetchError` has them). */
export interface FailedFetch {
  status?: number;
  /** The `Retry-After` header, when the server sent one. */
  retryAfter?: string;
}

/** Statuses by which a server asks us to slow down. */
const THROTTLE_STATUSES = new Set([429, 503]);

/**
 * The host outcome of a failed fetch: 429 and 503 are "throttled" (with the Retry-After wait
 * when given), anything else "failed".
 */
export function hostOutcomeOf(error: unknown, now: number = Date.now()): HostOutcome {
  const { status, retryAfter } = (error ?? {}) as FailedFetch;
  if (status === undefined || !THROTTLE_STATUSES.has(status)) return { kind: "failed" };
  const wait = retryAfterMs(retryAfter, now);
  return wait === undefined ? { kind: "throttled", status } : {
    kind: "throttled",
    status,
    retryAfterMs: wait,
  };
}

/** Whether a fetch failed because its host asked us to slow down (retried, not failed). */
export function isThrottled(error: unknown): boolean {
  return hostOutcomeOf(error).kind === "throttled";
}
