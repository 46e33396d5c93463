import assert from "node:assert/strict";
import type { Clock } from "../async/clock.ts";
import { MultiLimiter, type RateLimiter, TokenBucket } from "./rate_limiter.ts";

/** A clock that only moves when the test says so; its sleeps fire in due order. */
class FakeClock implements Pick<Clock, "now" | "sleep"> {
  #now = 0;
  #timers: { at: number; resolve: () => void }[] = [];

  now(): number {
    return this.#now;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const timer = { at: this.#now + ms, resolve };
      this.#timers.push(timer);
      signal?.addEventListener("abort", () => {
        this.#timers = this.#timers.filter((t) => t !== timer);
        reject(signal.reason);
      }, { once: true });
    });
  }

  /** Moves time forward by `ms`, firing due sleeps one at a time and letting their waiters run. */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    await settle(); // let waiters that are already due run at the current time
    for (;;) {
      this.#timers.sort((a, b) => a.at - b.at);
      const next = this.#timers[0];
      if (!next || next.at > end) break;
      this.#timers.shift();
      this.#now = next.at;
      next.resolve();
      await settle();
    }
    this.#now = end;
    await settle();
  }
}

/** Lets every promise continuation that is ready run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Starts `count` concurrent waits and records the clock time at which each one resolves. */
function startWaiters(limiter: RateLimiter, clock: FakeClock, count: number): number[] {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    limiter.wait().then(() => times.push(clock.now()));
  }
  return times;
}

Deno.test("token bucket lets a full burst through at once, then makes the next wait", async () => {
  const clock = new FakeClock();
  const bucket = new TokenBucket(1, 3, { clock });
  const times = startWaiters(bucket, clock, 3);
  await settle();
  assert.deepEqual(times, [0, 0, 0]);
  assert.equal(bucket.reserve().delayMs, 1000);
});

Deno.test("token bucket spaces concurrent waiters at its rate", async () => {
  const clock = new FakeClock();
  const bucket = new TokenBucket(2, 1, { clock });
  const times = startWaiters(bucket, clock, 6);
  await clock.advance(10_000);
  assert.deepEqual(times, [0, 500, 1000, 1500, 2000, 2500]);
});

Deno.test("token bucket refills while idle, but never beyond its burst", async () => {
  const clock = new FakeClock();
  const bucket = new TokenBucket(10, 4, { clock });
  startWaiters(bucket, clock, 4);
  await settle();
  await clock.advance(150);
  assert.ok(Math.abs(bucket.tokens - 1.5) < 1e-9);
  await clock.advance(60_000);
  assert.equal(bucket.tokens, 4);
});

Deno.test("token bucket holds its rate on the real clock", async () => {
  // 200 events/s with a burst of 5: 65 sequential events need at least 300 ms.
  const bucket = new TokenBucket(200, 5);
  const start = performance.now();
  for (let i = 0; i < 65; i++) await bucket.wait();
  const elapsed = performance.now() - start;
  assert.ok(elapsed >= 290, `65 events took only ${elapsed.toFixed(1)} ms`);
  assert.ok(elapsed < 1500, `65 events took ${elapsed.toFixed(1)} ms`);
});

Deno.test("an aborted wait rejects with the signal's reason and gives its token back", async () => {
  const clock = new FakeClock();
  const bucket = new TokenBucket(1, 1, { clock });
  await bucket.wait();
  const controller = new AbortController();
  const reason = new Error("task stopped");
  const aborted = bucket.wait(controller.signal);
  await clock.advance(400);
  controller.abort(reason);
  await assert.rejects(aborted, (e) => e === reason);
  // Had the aborted wait kept its token, the next one would be due at 2000 ms, not 1000 ms.
  const times = startWaiters(bucket, clock, 1);
  await clock.advance(599);
  assert.deepEqual(times, []);
  await clock.advance(1);
  assert.deepEqual(times, [1000]);
});

Deno.test("a wait on an already aborted signal rejects without taking a token", async () => {
  const clock = new FakeClock();
  const bucket = new TokenBucket(1, 1, { clock });
  const reason = new Error("gone");
  await assert.rejects(bucket.wait(AbortSignal.abort(reason)), (e) => e === reason);
  assert.equal(bucket.tokens, 1);
});

Deno.test("multi limiter is as strict as the strictest of its buckets", async () => {
  const clock = new FakeClock();
  // A burst of 5 at 1/s, and no burst at 10/s: the first five are spaced by the fast bucket,
  // the rest by the slow one.
  const limiter = MultiLimiter.fromSpecs([
    { eventCount: 10, eventDur: 1, bucket: 1 },
    { eventCount: 1, eventDur: 1, bucket: 5 },
  ], { clock });
  assert.equal(limiter.rate, 1);
  const times = startWaiters(limiter, clock, 8);
  await clock.advance(10_000);
  assert.deepEqual(times, [0, 100, 200, 300, 400, 1000, 2000, 3000]);
});

Deno.test("multi limiter reads eventCount per eventDur seconds", async () => {
  const clock = new FakeClock();
  const limiter = MultiLimiter.fromSpecs([{ eventCount: 1, eventDur: 2, bucket: 1 }], { clock });
  const times = startWaiters(limiter, clock, 3);
  await clock.advance(10_000);
  assert.deepEqual(times, [0, 2000, 4000]);
});

Deno.test("an aborted multi limiter wait gives every bucket its token back", async () => {
  const clock = new FakeClock();
  const fast = new TokenBucket(10, 3, { clock });
  const slow = new TokenBucket(1, 1, { clock });
  const limiter = new MultiLimiter([fast, slow], { clock });
  await limiter.wait();
  const controller = new AbortController();
  const aborted = limiter.wait(controller.signal);
  await clock.advance(100);
  controller.abort(new Error("stop"));
  await assert.rejects(aborted);
  assert.ok(Math.abs(fast.tokens - 3) < 1e-9, `fast bucket has ${fast.tokens}`);
  assert.ok(Math.abs(slow.tokens - 0.1) < 1e-9, `slow bucket has ${slow.tokens}`);
});

Deno.test("multi limiter without limits lets everything through", async () => {
  const limiter = MultiLimiter.fromSpecs([]);
  assert.equal(limiter.rate, Infinity);
  for (let i = 0; i < 10_000; i++) await limiter.wait();
});

Deno.test("limits that cannot be met are rejected when the limiter is built", () => {
  assert.throws(
    () => MultiLimiter.fromSpecs([{ eventCount: 0, eventDur: 1, bucket: 1 }]),
    RangeError,
  );
  assert.throws(
    () => MultiLimiter.fromSpecs([{ eventCount: 1, eventDur: 0, bucket: 1 }]),
    RangeError,
  );
  assert.throws(
    () => MultiLimiter.fromSpecs([{ eventCount: 1, eventDur: 1, bucket: 0 }]),
    RangeError,
  );
  assert.throws(() => new TokenBucket(1, 1.5), RangeError);
});
