/**
 * @module
 * Bounding puppeteer calls that take no signal of their own (closing a page, reading the DOM).
 */

/** The error of a call that outlived its bound. */
export class DeadlineError extends Error {
  constructor(what: string, ms: number) {
    super(`${what} took longer than ${ms} ms`);
    this.name = "DeadlineError";
  }
}

/**
 * Settles as `promise` does, or rejects with a {@linkcode DeadlineError} after `ms`. The call
 * itself goes on: its late outcome is dropped on purpose (the caller has already moved on, e.g.
 * killed the browser the call was waiting for).
 */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new DeadlineError(what, ms)), ms);
    promise.then(resolve, reject).finally(() => clearTimeout(timer));
  });
}

/**
 * Settles as `promise` does, or rejects with `signal.reason` as soon as `signal` aborts. As with
 * {@linkcode within}, the call goes on and its late outcome is dropped.
 */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => {}); // superseded by the abort, see above
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
