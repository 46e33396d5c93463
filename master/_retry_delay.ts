/**
 * @module
 * The backoff the master's loops wait between attempts: doubling from `initialMs` to `maxMs`,
 * with jitter so masters that failed together do not retry together (`async/backoff.ts`).
 */
import { backoffMs, type BackoffPolicy } from "../async/backoff.ts";
import { delay } from "../async/delay.ts";

/** The delays of a retry loop, in ms. */
export type RetryDelays = Pick<BackoffPolicy, "initialMs" | "maxMs">;

/**
 * Waits before attempt `attempt + 1` (a random time in [base/2, base), base doubling per attempt
 * up to `maxMs`). Resolves early, without throwing, when `signal` aborts.
 */
export async function retryDelay(
  attempt: number,
  delays: RetryDelays,
  signal: AbortSignal,
): Promise<void> {
  await delay(backoffMs(attempt, delays), { signal }).catch(() => undefined);
}
