/**
 * @module
 * Retry timing shared by the store implementations: an exponential backoff policy.
 */

/** Time between retries: doubling from `initialDelayMs` up to `maxDelayMs`, jittered. */
export interface BackoffPolicy {
  /** First delay. Default: 50 ms. */
  initialDelayMs?: number;
  /** Largest delay. Default: 1000 ms. */
  maxDelayMs?: number;
}

/** The delay before retry number `attempt` (0-based): exponential, with jitter in [50%, 100%]. */
export function backoffDelay(policy: BackoffPolicy, attempt: number): number {
  const initial = policy.initialDelayMs ?? 50;
  const max = policy.maxDelayMs ?? 1000;
  const base = Math.min(max, initial * 2 ** Math.min(attempt, 30));
  // Jitter keeps many clients that lost etcd at the same moment from retrying in lockstep.
  return base / 2 + Math.random() * (base / 2);
}
