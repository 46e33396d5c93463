/**
 * @module
 * Token-bucket rate limiting for a task's fetches: `TokenBucket` is one bucket (the
 * counterpart of golang.org/x/time/rate's Limiter), `MultiLimiter` makes every bucket of a
 * task's `Limits` allow an event (the Go project's limiter.Multi).
 */
import { type Clock, systemClock } from "../async/clock.ts";
import type { LimitSpec } from "./limit_spec.ts";

/** The part of the clock the limiters use: they read the time and sleep. */
type LimiterClock = Pick<Clock, "now" | "sleep">;

/**
 * A claim on one future event. The event may happen `delayMs` after the claim was made;
 * `cancel()` hands the claim back if the caller gives up before then.
 */
export interface Reservation {
  readonly delayMs: number;
  /** Gives the slot back. Only for a caller that did not act; calling it twice is harmless. */
  cancel(): void;
}

/** What the crawl engine waits on before each fetch. */
export interface RateLimiter {
  /** Sustained events per second (`Infinity` when unlimited). */
  readonly rate: number;
  /** Claims the next event slot now; the caller must wait `delayMs` before acting. */
  reserve(): Reservation;
  /**
   * Resolves when the caller may act. Rejects with `signal.reason` if the signal aborts first,
   * and then gives its slot back so the abort costs no token.
   */
  wait(signal?: AbortSignal): Promise<void>;
}

/** Options shared by the limiters. */
export interface LimiterOptions {
  /** Time as the limiters see it; a test passes a fake. Default: {@linkcode systemClock}. */
  clock?: LimiterClock;
}

const noReservation: Reservation = Object.freeze({ delayMs: 0, cancel() {} });

/**
 * A token bucket: it refills at `rate` tokens per second up to `burst` tokens, and each event
 * takes one. It starts full, so the first `burst` events pass at once.
 *
 * Like golang.org/x/time/rate, a waiter reserves its token when it starts waiting (the bucket
 * may go into debt), so concurrent waiters queue up at evenly spaced times instead of all
 * waking together and racing for the next token.
 *
 * @example
 * ```ts
 * const bucket = new TokenBucket(0.5, 1); // one event every 2 s, no burst
 * await bucket.wait(signal);
 * ```
 */
export class TokenBucket implements RateLimiter {
  readonly rate: number;
  readonly burst: number;
  readonly #clock: LimiterClock;
  readonly #perMs: number;
  #tokens: number;
  /** When #tokens was last brought up to date. */
  #last: number;
  /** The latest time any reservation is due to act (x/time/rate's lastEvent). */
  #lastEvent: number;

  /**
   * @param rate tokens added per second, > 0; `Infinity` lets everything through.
   * @param burst bucket size, an integer ≥ 1.
   */
  constructor(rate: number, burst: number, options: LimiterOptions = {}) {
    if (!(rate > 0)) throw new RangeError(`rate must be > 0, got ${rate}`);
    if (!Number.isInteger(burst) || burst < 1) {
      throw new RangeError(`burst must be an integer >= 1, got ${burst}`);
    }
    this.rate = rate;
    this.burst = burst;
    this.#clock = options.clock ?? systemClock;
    this.#perMs = rate / 1000;
    this.#tokens = burst;
    this.#last = this.#lastEvent = this.#clock.now();
  }

  /** Builds the bucket for one `Limits` entry. */
  static fromSpec(spec: LimitSpec, options: LimiterOptions = {}): TokenBucket {
    if (!(spec.eventCount > 0) || !(spec.eventDur > 0)) {
      throw new RangeError(
        `limit needs eventCount > 0 and eventDur > 0, got ${spec.eventCount}/${spec.eventDur}`,
      );
    }
    return new TokenBucket(spec.eventCount / spec.eventDur, spec.bucket, options);
  }

  /** Tokens available now (negative while waiters are queued). */
  get tokens(): number {
    if (this.rate === Infinity) return this.burst;
    return this.#advance(this.#clock.now());
  }

  reserve(): Reservation {
    if (this.rate === Infinity) return noReservation;
    const now = this.#clock.now();
    const tokens = this.#advance(now) - 1;
    const delayMs = tokens < 0 ? -tokens / this.#perMs : 0;
    const actAt = now + delayMs;
    this.#tokens = tokens;
    this.#last = now;
    this.#lastEvent = actAt;
    let done = false;
    return {
      delayMs,
      cancel: () => {
        if (done) return;
        done = true;
        this.#cancel(actAt);
      },
    };
  }

  wait(signal?: AbortSignal): Promise<void> {
    return waitOn(this, this.#clock, signal);
  }

  /** Tokens at `now`, without storing them. */
  #advance(now: number): number {
    const elapsed = Math.max(0, now - this.#last);
    return Math.min(this.burst, this.#tokens + elapsed * this.#perMs);
  }

  /**
   * x/time/rate's Reservation.Cancel: return the token unless later reservations rely on it.
   * Unlike Go's, it also restores a token whose time has passed: a MultiLimiter reservation is
   * only acted on when its slowest bucket allows, so an earlier due time does not mean "used".
   */
  #cancel(actAt: number): void {
    const now = this.#clock.now();
    // Waiters that reserved after this one were scheduled behind it; their slots stay, so only
    // the part of the token they did not build on comes back.
    const restore = 1 - (this.#lastEvent - actAt) * this.#perMs;
    if (restore <= 0) return;
    this.#tokens = Math.min(this.burst, this.#advance(now) + restore);
    this.#last = now;
    if (actAt === this.#lastEvent) {
      const previous = actAt - 1 / this.#perMs;
      if (previous >= now) this.#lastEvent = previous;
    }
  }
}

/**
 * Several limiters that must all allow an event, e.g. "1 per 2 s" and "20 per minute".
 *
 * The Go project's limiter.Multi waited on each limiter in turn (strictest first). This one
 * reserves on all of them at once and waits for the latest slot: the wait is the same, but an
 * abort hands every token back instead of losing those already taken.
 * An empty list means unlimited.
 */
export class MultiLimiter implements RateLimiter {
  readonly limiters: readonly RateLimiter[];
  readonly #clock: LimiterClock;

  constructor(limiters: readonly RateLimiter[], options: LimiterOptions = {}) {
    // Strictest first, as in the Go project, so `limiters[0]` is the binding rate.
    this.limiters = [...limiters].sort((a, b) => a.rate - b.rate);
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * Builds the limiter for a task's `Limits` (config `{EventCount, EventDur, Bucket}`, as
   * `{eventCount, eventDur, bucket}`). Throws `RangeError` for a non-positive value.
   */
  static fromSpecs(specs: readonly LimitSpec[], options: LimiterOptions = {}): MultiLimiter {
    return new MultiLimiter(specs.map((spec) => TokenBucket.fromSpec(spec, options)), options);
  }

  /** The strictest limiter's rate; `Infinity` without limiters. */
  get rate(): number {
    return this.limiters[0]?.rate ?? Infinity;
  }

  reserve(): Reservation {
    if (this.limiters.length === 0) return noReservation;
    const reservations = this.limiters.map((limiter) => limiter.reserve());
    return {
      delayMs: Math.max(...reservations.map((r) => r.delayMs)),
      cancel: () => reservations.forEach((r) => r.cancel()),
    };
  }

  wait(signal?: AbortSignal): Promise<void> {
    return waitOn(this, this.#clock, signal);
  }
}

async function waitOn(
  limiter: RateLimiter,
  clock: LimiterClock,
  signal?: AbortSignal,
): Promise<void> {
  signal?.throwIfAborted();
  const reservation = limiter.reserve();
  if (reservation.delayMs <= 0) return;
  try {
    await clock.sleep(reservation.delayMs, signal);
  } catch (error) {
    reservation.cancel();
    throw error;
  }
}
