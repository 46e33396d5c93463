/**
 * @module
 * Cancellable waits used by the master (the store's own helpers are private to `store/`).
 */

/** Resolves after `ms`, or rejects with `signal.reason` as soon as `signal` aborts. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

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
