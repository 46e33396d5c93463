/**
 * @module
 * The random pause before each fetch that makes a crawler look less like one (the Go project's
 * `Request.Fetch` slept a random time under the task's `WaitTime`).
 */
import { delay } from "../async/delay.ts";

/** Options for {@linkcode randomWait}. */
export interface RandomWaitOptions {
  /** Aborting it rejects the wait with the signal's reason. */
  signal?: AbortSignal;
  /** Uniform in [0, 1). Default: `Math.random`. */
  random?: () => number;
  /** Cancellable sleep. Default: {@linkcode delay}. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/**
 * Waits a random whole number of milliseconds in [0, `waitTimeSeconds` × 1000), and resolves
 * with the time it waited. A `waitTimeSeconds` of 0 (or less) means no wait.
 *
 * @example
 * ```ts
 * await randomWait(task.waitTime, { signal: run.signal });
 * ```
 */
export async function randomWait(
  waitTimeSeconds: number,
  options: RandomWaitOptions = {},
): Promise<number> {
  const { signal, random = Math.random, sleep = defaultSleep } = options;
  signal?.throwIfAborted();
  if (!(waitTimeSeconds > 0)) return 0;
  const maxMs = Math.floor(waitTimeSeconds * 1000);
  // Clamped so an injected random that returns 1 still stays below the bound.
  const ms = Math.min(maxMs - 1, Math.floor(random() * maxMs));
  if (ms <= 0) return 0;
  await sleep(ms, signal);
  return ms;
}

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return delay(ms, { signal });
}
