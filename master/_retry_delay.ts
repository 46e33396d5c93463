/**
 * @module
 * The backoff the master's loops wait between attempts: doubling from `initialMs` to `maxMs`,
 * with jitter so masters that failed together do not retry together.
 */
import { delay } from "../async/delay.ts";

/** The delays of a retry loop, in ms. */
export interface RetryDelays {
  initialMs: number;
  maxMs: number;
}

/**
 * Waits before attempt `attempt + 1` (a random time in [base/2, base), base doubling per attempt
 * up to `maxMs`). Resolves early, without throwing, when `signal` aborts.
 */
export async function retryDelay(
  attempt: number,
  delays: RetryDelays,
  signal: AbortSignal,
): Promise<void> {
  const base = Math.min(delays.maxMs, delays.initialMs * 2 ** Math.min(attempt, 20));
  await delay(base / 2 + Math.random() * (base / 2), { signal }).catch(() => undefined);
}
