import assert from "node:assert/strict";
import { backoffMs } from "./backoff.ts";

Deno.test("backoff doubles from the first delay and stops at the cap", () => {
  const policy = { initialMs: 100, maxMs: 1000, jitter: 0 };
  const waits = [0, 1, 2, 3, 4, 5, 50].map((attempt) => backoffMs(attempt, policy));
  assert.deepEqual(waits, [100, 200, 400, 800, 1000, 1000, 1000]);
});

Deno.test("backoff draws the jittered share of each wait from the random source", () => {
  const policy = { initialMs: 100, maxMs: 1000 };
  assert.equal(backoffMs(2, { ...policy, random: () => 0 }), 200, "half the base at least");
  assert.equal(backoffMs(2, { ...policy, random: () => 0.5 }), 300);
  assert.ok(backoffMs(9, { ...policy, random: () => 0.999999 }) < 1000, "never past the cap");
  assert.equal(backoffMs(1, { ...policy, jitter: 1, random: () => 0.25 }), 50);
});

Deno.test("backoff of a huge or negative attempt stays finite and within the policy", () => {
  const policy = { initialMs: 5, maxMs: 100, jitter: 0 };
  assert.equal(backoffMs(1e9, policy), 100);
  assert.equal(backoffMs(-3, policy), 5);
});
