import assert from "node:assert/strict";
import { randomWait } from "./random_wait.ts";

/** Records the sleeps asked for instead of sleeping. */
function recordingSleep() {
  const calls: number[] = [];
  const sleep = (ms: number) => {
    calls.push(ms);
    return Promise.resolve();
  };
  return { calls, sleep };
}

Deno.test("random wait sleeps a whole number of ms below the wait time", async () => {
  const { calls, sleep } = recordingSleep();
  assert.equal(await randomWait(2, { random: () => 0.5, sleep }), 1000);
  assert.equal(await randomWait(2, { random: () => 0.99999, sleep }), 1999);
  assert.equal(await randomWait(2, { random: () => 1, sleep }), 1999);
  assert.equal(await randomWait(0.5, { random: () => 0.25, sleep }), 125);
  assert.deepEqual(calls, [1000, 1999, 1999, 125]);
});

Deno.test("random wait of zero seconds does not sleep", async () => {
  const { calls, sleep } = recordingSleep();
  assert.equal(await randomWait(0, { sleep }), 0);
  assert.equal(await randomWait(3, { random: () => 0, sleep }), 0);
  assert.deepEqual(calls, []);
});

Deno.test("random wait draws uniformly over the whole range", async () => {
  const { calls, sleep } = recordingSleep();
  for (let i = 0; i < 2000; i++) await randomWait(1, { sleep });
  const below = calls.filter((ms) => ms < 500).length;
  assert.ok(calls.every((ms) => ms >= 0 && ms < 1000));
  assert.ok(below > 800 && below < 1200, `${below} of ${calls.length} in the lower half`);
});

Deno.test("random wait is cut short by an abort with the signal's reason", async () => {
  const controller = new AbortController();
  const reason = new Error("task stopped");
  const start = performance.now();
  const pending = randomWait(60, { signal: controller.signal, random: () => 0.9 });
  setTimeout(() => controller.abort(reason), 10);
  await assert.rejects(pending, (e) => e === reason);
  assert.ok(performance.now() - start < 1000);
});

Deno.test("random wait rejects at once on an aborted signal, even with no wait time", async () => {
  const reason = new Error("gone");
  await assert.rejects(randomWait(0, { signal: AbortSignal.abort(reason) }), (e) => e === reason);
});
