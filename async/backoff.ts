/**
 * @module
 * The one backoff of the project ({@linkcode backoffMs}): how long a retry loop waits before
 * its next attempt — doubling from a first delay up to a cap, jittered. Every retry loop (the
 * store clients, the master's loops, the results and frontier databases) asks it, each with
 * its own first delay and cap.
 */

/** A retry loop's waits: doubling from `initialMs` up to `maxMs`, jittered. */
export interface BackoffPolicy {
  /** The wait before the second attempt (attempt 0 failed), ms, before jitter. */
  initialMs: number;
  /** The longest wait, ms, before jitter. */
  maxMs: number;
  /**
   * The share of each wait drawn at random, from 0 (none: exactly the doubled delay) to 1. With
   * the default 0.5 a wait of base `b` is drawn from [b/2, b): loops that failed together (many
   * clients that lost one server) do not retry together, and no wait is longer than the cap.
   */
  jitter?: number;
  /** The random source, a number in [0, 1). Default `Math.random`; tests pass their own. */
  random?: () => number;
}

/**
 * The wait before retrying after failed attempt number `attempt` (0-based), ms:
 * `min(maxMs, initialMs · 2^attempt)`, of which the `jitter` share is drawn at random.
 *
 * @example
 * ```ts
 * for (let attempt = 0;; attempt++) {
 *   try {
 *     return await connect();
 *   } catch {
 *     await delay(backoffMs(attempt, { initialMs: 50, maxMs: 1000 }), { signal });
 *   }
 * }
 * ```
 */
export function backoffMs(attempt: number, policy: BackoffPolicy): number {
  // 2^30 times any first delay is past every cap; a larger power would only risk Infinity.
  const base = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(Math.max(0, attempt), 30));
  const jitter = Math.min(1, Math.max(0, policy.jitter ?? 0.5));
  if (jitter === 0) return base;
  const random = policy.random ?? Math.random;
  return base * (1 - jitter) + random() * base * jitter;
}
