import assert from "node:assert/strict";
import { HostCounters } from "./host_counters.ts";

Deno.test("host counters count per host and keep the last delay and block seen", () => {
  const counters = new HostCounters();
  counters.requested("http://a:80");
  counters.requested("http://a:80");
  counters.requested("http://b:80");
  counters.disallowed("http://b:80");
  counters.observed({
    host: "http://a:80",
    requests: 9,
    throttled: 1,
    disallowed: 0,
    delayMs: 2000,
    blockedUntil: 123,
    inFlight: 0,
  }, true);
  assert.deepEqual(counters.list(), [
    {
      host: "http://a:80",
      requests: 2,
      throttled: 1,
      disallowed: 0,
      delayMs: 2000,
      blockedUntil: 123,
    },
    { host: "http://b:80", requests: 1, throttled: 0, disallowed: 1, delayMs: 0, blockedUntil: 0 },
  ]);
  assert.equal(counters.list(1).length, 1);
});

Deno.test("host counters past their bound count new hosts together", () => {
  const counters = new HostCounters(2);
  for (const host of ["a", "b", "c", "d"]) counters.requested(host);
  assert.deepEqual(counters.list().map((h) => [h.host, h.requests]), [
    ["(other)", 2],
    ["a", 1],
    ["b", 1],
  ]);
});
