/**
 * @module
 * A cancellable sleep, the building block of every timed wait (retries, backoff, limiters).
 */

/** Options for {@linkcode delay}. */
export interface DelayOptions {
  /** Aborting it rejects the pending delay with the signal's reason and clears the timer. */
  signal?: AbortSignal;
}

/**
 * Resolves after `ms` milliseconds, or rejects with `signal.reason` as soon as the signal
 * aborts (at once if it already has). The timer is cleared on abort, so an aborted delay leaves
 * nothing pending behind it (leak-checked tests depend on that).
 *
 * @example
 * ```ts
 * const controller = new AbortController();
 * setTimeout(() => controller.abort(), 10);
 * await delay(60_000, { signal: controller.signal }).catch((e) => console.log("stopped", e));
 * ```
 */
export function delay(ms: number, options: DelayOptions = {}): Promise<void> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, Math.max(0, ms));
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
