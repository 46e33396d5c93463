/**
 * @module
 * Time as a dependency, so code with timers (lease TTLs, debounced writes, rate limits) can be
 * tested on a fake clock without waiting. One interface for the whole codebase; a consumer that
 * needs only part of it asks for that part (`Pick<Clock, "now" | "sleep">`), so a test's fake
 * implements only what the code under test calls.
 */
import { delay } from "./delay.ts";

/** A source of time and timers. */
export interface Clock {
  /**
   * Milliseconds since the epoch. The system clock's can step (NTP): code that measures elapsed
   * time with it clamps a negative difference to 0, as the rate limiter does.
   */
  now(): number;
  /** Calls `callback` once after `ms` milliseconds; the returned function cancels it. */
  setTimer(callback: () => void, ms: number): () => void;
  /** Resolves after `ms`; rejects with `signal.reason` as soon as `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The real clock: `Date.now()`, `setTimeout` and {@linkcode delay}. */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimer(callback: () => void, ms: number): () => void {
    const timer = setTimeout(callback, ms);
    return () => clearTimeout(timer);
  },
  sleep: (ms: number, signal?: AbortSignal) => delay(ms, { signal }),
});
