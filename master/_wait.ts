/**
 * @module
 * A cancellable wait with a deadline, used by the master.
 */

/** Options for {@linkcode waitFor}. */
export interface WaitForOptions {
  /** Give up after this long, rejecting with `onTimeout()`. */
  timeoutMs: number;
  /** Rejects with its reason when it aborts first. */
  signal?: AbortSignal;
  onTimeout: () => Error;
}

/**
 * Waits for `promise`, at most `timeoutMs` and no longer than `signal` lasts. The timer and the
 * listener are removed whatever wins, so nothing is left running.
 */
export function waitFor<T>(promise: Promise<T>, options: WaitForOptions): Promise<T> {
  const { timeoutMs, signal, onTimeout } = options;
  return new Promise<T>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const cleanup = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    const onAbort = () => {
      cleanup();
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(onTimeout());
    }, timeoutMs);
    signal?.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        cleanup();
        resolve(value);
      },
      (error) => {
        cleanup();
        reject(error);
      },
    );
  });
}
