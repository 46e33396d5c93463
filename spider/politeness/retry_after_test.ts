import assert from "node:assert/strict";
import { retryAfterMs } from "./retry_after.ts";

const now = Date.parse("2026-11-30T05:00:00Z");

Deno.test("retry-after in seconds is a wait in ms", () => {
  assert.equal(retryAfterMs("2", now), 2000);
  assert.equal(retryAfterMs(" 0 ", now), 0);
});

Deno.test("retry-after as an HTTP date waits until that date", () => {
  assert.equal(retryAfterMs("Mon, 30 Nov 2026 05:00:07 GMT", now), 7000);
  assert.equal(retryAfterMs("Mon, 30 Nov 2026 04:00:00 GMT", now), 0);
});

Deno.test("retry-after that is missing or garbage asks for nothing", () => {
  assert.equal(retryAfterMs(null, now), undefined);
  assert.equal(retryAfterMs("soon", now), undefined);
  assert.equal(retryAfterMs("-5", now), undefined);
  assert.equal(retryAfterMs("1.5", now), undefined);
});
