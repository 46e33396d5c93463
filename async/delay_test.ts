import assert from "node:assert/strict";
import { delay } from "./delay.ts";

Deno.test("delay resolves after roughly the given time", async () => {
  const start = performance.now();
  await delay(30); // the delay under test
  const elapsed = performance.now() - start;
  assert.ok(elapsed >= 25, `resolved after ${elapsed} ms`);
  assert.ok(elapsed < 1000, `resolved after ${elapsed} ms`);
});

Deno.test("delay rejects with the signal's reason on abort and clears its timer", async () => {
  const controller = new AbortController();
  const reason = new Error("stop");
  const start = performance.now();
  const pending = delay(60_000, { signal: controller.signal });
  setTimeout(() => controller.abort(reason), 10);
  await assert.rejects(pending, (e) => e === reason);
  // A pending 60 s timer would also fail this test under --trace-leaks.
  assert.ok(performance.now() - start < 1000);
});

Deno.test("delay rejects at once when the signal is already aborted", async () => {
  const reason = new Error("already");
  await assert.rejects(delay(60_000, { signal: AbortSignal.abort(reason) }), (e) => e === reason);
});

Deno.test("delay treats a negative time as zero", async () => {
  await delay(-5);
});
