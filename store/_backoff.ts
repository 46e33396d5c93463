/**
 * @module
 * Retry timing of the store implementations: their backoff option, read into the project's one
 * backoff (`async/backoff.ts`) with the store's defaults.
 */
import { backoffMs } from "../async/backoff.ts";

/** Time between retries: doubling from `initialDelayMs` up to `maxDelayMs`, jittered. */
export interface BackoffPolicy {
  /** First delay. Default: 50 ms. */
  initialDelayMs?: number;
  /** Largest delay. Default: 1000 ms. */
  maxDelayMs?: number;
}

/** The delay before retry number `attempt` (0-based): exponential, with jitter in [50%, 100%]. */
export function backoffDelay(policy: BackoffPolicy, attempt: number): number {
  // Jitter keeps many clients that lost etcd at the same moment from retrying in lockstep.
  return backoffMs(attempt, {
    initialMs: policy.initialDelayMs ?? 50,
    maxMs: policy.maxDelayMs ?? 1000,
  });
}
