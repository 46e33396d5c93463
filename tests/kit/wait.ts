/**
 * @module
 * The tests' one way to wait: {@linkcode waitFor} a condition, {@linkcode waitForSteady} a value
 * that stops changing, {@linkcode holdsFor} a condition that must stay true, and
 * {@linkcode every} for a sampler that runs until stopped. Each failure says what it waited for
 * and what it saw last.
 */
import assert from "node:assert/strict";

/** What a condition returns once it holds. */
export type Truthy<T> = Exclude<T, false | 0 | "" | null | undefined>;

/** Options for {@linkcode waitFor}. */
export interface WaitForOptions {
  /** What is awaited, for the timeout's message: "both workers to register". */
  what: string;
  /** Give up after this long. Default 10000 ms. */
  timeoutMs?: number;
  /** Pause between two tries. Default 20 ms. */
  intervalMs?: number;
  /** Stops waiting with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * Calls `condition` until it returns a truthy value, and resolves with that value. An error it
 * throws counts as "not yet" (a process not listening yet) and is kept for the message, except a
 * failed assertion, which fails at once. After `timeoutMs` it throws, naming `what` and the last
 * value or error seen.
 *
 * Given a promise instead, it waits for it to settle, at most `timeoutMs`.
 *
 * @example
 * ```ts
 * const leader = await waitFor(async () => (await leaderOf(masters)), {
 *   what: "the masters to agree on a leader",
 *   timeoutMs: 20_000,
 * });
 * await waitFor(child.status, { what: "the child to exit", timeoutMs: 5000 });
 * ```
 */
export function waitFor<T>(promise: Promise<T>, options: WaitForOptions): Promise<T>;
export function waitFor<T>(
  condition: () => T | Promise<T>,
  options: WaitForOptions,
): Promise<Truthy<T>>;
export function waitFor<T>(
  condition: (() => T | Promise<T>) | Promise<T>,
  options: WaitForOptions,
): Promise<T> {
  return typeof condition === "function"
    ? poll(condition, options) as Promise<T>
    : settled(condition, options);
}

async function poll<T>(
  condition: () => T | Promise<T>,
  options: WaitForOptions,
): Promise<Truthy<T>> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  let last: { value: unknown } | { error: unknown } | undefined;
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      const value = await condition();
      if (value) return value as Truthy<T>;
      last = { value };
    } catch (error) {
      if (error instanceof assert.AssertionError) throw error;
      last = { error };
    }
    if (Date.now() >= deadline) {
      const seen = last === undefined
        ? "nothing"
        : "error" in last
        ? `the error ${describe(last.error)}`
        : `the value ${describe(last.value)}`;
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${options.what}; last saw ${seen}`,
        {
          cause: last && "error" in last ? last.error : undefined,
        },
      );
    }
    await pause(
      Math.min(options.intervalMs ?? 20, Math.max(0, deadline - Date.now())),
      options.signal,
    );
  }
}

async function settled<T>(promise: Promise<T>, options: WaitForOptions): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const expired = new AbortController();
  const timer = setTimeout(() => expired.abort(), timeoutMs);
  const signal = options.signal
    ? AbortSignal.any([options.signal, expired.signal])
    : expired.signal;
  try {
    return await new Promise<T>((resolve, reject) => {
      signal.addEventListener("abort", () => {
        reject(
          options.signal?.aborted
            ? options.signal.reason
            : new Error(`timed out after ${timeoutMs} ms waiting for ${options.what}`),
        );
      }, { once: true });
      promise.then(resolve, reject);
    });
  } finally {
    clearTimeout(timer);
  }
}

/** Options for {@linkcode waitForSteady}. */
export interface WaitForSteadyOptions<T> extends WaitForOptions {
  /** How long the value must stay the same. */
  forMs: number;
  /** Only a value this accepts counts as settled. Default: any. */
  accept?: (value: T) => boolean;
}

/**
 * Reads `read()` until it has returned the same value (compared as JSON) for `forMs`, and
 * resolves with that value: "the placements settled", "the site went quiet". Throws like
 * {@linkcode waitFor} after `timeoutMs`.
 */
export async function waitForSteady<T>(
  read: () => T | Promise<T>,
  options: WaitForSteadyOptions<T>,
): Promise<{ value: T; since: number }> {
  let seen: string | undefined;
  let since = Date.now();
  let value: T;
  await waitFor(async () => {
    value = await read();
    const now = JSON.stringify(value);
    if (now !== seen) [seen, since] = [now, Date.now()];
    if (options.accept && !options.accept(value)) return false;
    return Date.now() - since >= options.forMs;
  }, { ...options, what: `${options.what} (unchanged for ${options.forMs} ms)` });
  return { value: value!, since };
}

/**
 * Checks `condition` every `intervalMs` (default 20) for `forMs` and fails as soon as it does not
 * hold: "no page is fetched while paused". The time spent is the behaviour under test, so each
 * caller says why it is that long.
 */
export async function holdsFor(
  condition: () => boolean | Promise<boolean>,
  options: { forMs: number; what: string; intervalMs?: number },
): Promise<void> {
  const until = Date.now() + options.forMs;
  for (;;) {
    assert.ok(await condition(), `${options.what} stopped holding before ${options.forMs} ms`);
    if (Date.now() >= until) return;
    await pause(Math.min(options.intervalMs ?? 20, until - Date.now()));
  }
}

/**
 * Runs `step` every `intervalMs` (after it finishes) until `stop()` is called; `stop()` resolves
 * once the last run is over. For samplers that watch a cluster while a test does something to it.
 * An error in `step` stops the loop and rejects `stop()`.
 */
export function every(
  intervalMs: number,
  step: () => void | Promise<void>,
): { stop(): Promise<void> } {
  const controller = new AbortController();
  const loop = (async () => {
    while (!controller.signal.aborted) {
      await step();
      await pause(intervalMs, controller.signal).catch(() => undefined);
    }
  })();
  return {
    stop() {
      controller.abort();
      return loop;
    },
  };
}

/** Resolves after `ms`, or rejects with `signal`'s reason when it aborts first. */
function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
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

function describe(value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  try {
    const text = typeof value === "string" ? JSON.stringify(value) : Deno.inspect(value, {
      depth: 3,
      compact: true,
      breakLength: Infinity,
    });
    return text.length > 300 ? `${text.slice(0, 300)}…` : text;
  } catch {
    return String(value);
  }
}
