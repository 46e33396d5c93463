import assert from "node:assert/strict";
import {
  claimSlot,
  DEFAULT_HOST_POLICY,
  hostDueAt,
  type HostLimits,
  newHostState,
  releaseSlot,
} from "./host_state.ts";

const policy = DEFAULT_HOST_POLICY;
const noDelay: HostLimits = { delayMs: 0, concurrency: 2 };
const oneSecond: HostLimits = { delayMs: 1000, concurrency: 8 };

Deno.test("host state: without a delay, up to the concurrency limit at once", () => {
  const state = newHostState("http://a.test:80");
  assert.equal(claimSlot(state, noDelay, 0, policy, "1").granted, true);
  assert.equal(claimSlot(state, noDelay, 0, policy, "2").granted, true);
  const third = claimSlot(state, noDelay, 0, policy, "3");
  assert.equal(third.granted, false);
  releaseSlot(state, "1", { kind: "ok" }, noDelay, 5, policy);
  assert.equal(claimSlot(state, noDelay, 5, policy, "3").granted, true);
  assert.equal(state.requests, 3);
});

Deno.test("host state: a delay spaces requests from the previous one's end, one at a time", () => {
  const state = newHostState("h");
  assert.equal(claimSlot(state, oneSecond, 0, policy, "1").granted, true);
  // In flight: nobody else, even after the delay.
  assert.deepEqual(claimSlot(state, oneSecond, 1500, policy, "2").granted, false);
  releaseSlot(state, "1", { kind: "ok" }, oneSecond, 1600, policy);
  const early = claimSlot(state, oneSecond, 2000, policy, "2");
  assert.deepEqual(early, { granted: false, notBefore: 2600, waitMs: 600, reason: "due" });
  assert.equal(claimSlot(state, oneSecond, 2600, policy, "2").granted, true);
});

Deno.test("host state: retry-after blocks the host until then, capped", () => {
  const state = newHostState("h");
  claimSlot(state, noDelay, 0, policy, "1");
  releaseSlot(
    state,
    "1",
    { kind: "throttled", status: 429, retryAfterMs: 2000 },
    noDelay,
    10,
    policy,
  );
  assert.deepEqual(claimSlot(state, noDelay, 1000, policy, "2"), {
    granted: false,
    notBefore: 2010,
    waitMs: 1010,
    reason: "due",
  });
  assert.equal(claimSlot(state, noDelay, 2010, policy, "2").granted, true);
  assert.equal(state.throttled, 1);

  const capped = newHostState("h2");
  const smallCap = { ...policy, maxBackoffMs: 5000 };
  claimSlot(capped, noDelay, 0, smallCap, "1");
  releaseSlot(
    capped,
    "1",
    { kind: "throttled", status: 503, retryAfterMs: 86_400_000 },
    noDelay,
    0,
    smallCap,
  );
  assert.equal(capped.blockedUntil, 5000);
});

Deno.test("host state: 429/503 without retry-after doubles the delay, capped, then it recovers", () => {
  const state = newHostState("h");
  const cap = { ...policy, maxBackoffMs: 4000, quietMs: 10_000 };
  let now = 0;
  const delays: number[] = [];
  for (let i = 0; i < 4; i++) {
    let claim = claimSlot(state, noDelay, now, cap, `s${i}`);
    if (!claim.granted) {
      assert.equal(claim.notBefore, now + state.delayMs);
      now = claim.notBefore;
      claim = claimSlot(state, noDelay, now, cap, `s${i}`);
    }
    assert.equal(claim.granted, true);
    releaseSlot(state, `s${i}`, { kind: "throttled", status: 503 }, noDelay, now, cap);
    delays.push(state.delayMs);
  }
  assert.deepEqual(delays, [1000, 2000, 4000, 4000]);
  // A quiet spell later, the delay is back to the caller's.
  now += 10_000;
  const claim = claimSlot(state, noDelay, now, cap, "late");
  assert.equal(claim.granted, true);
  assert.equal(state.backoffMs, 0);
  assert.equal(state.delayMs, 0);
});

Deno.test("host state: a slot never released expires with its lease", () => {
  const state = newHostState("h");
  const short = { ...policy, slotLeaseMs: 100 };
  const one: HostLimits = { delayMs: 0, concurrency: 1 };
  assert.equal(claimSlot(state, one, 0, short, "lost").granted, true);
  assert.deepEqual(claimSlot(state, one, 50, short, "2"), {
    granted: false,
    notBefore: 100,
    waitMs: 50,
    reason: "busy",
  });
  assert.equal(claimSlot(state, one, 100, short, "2").granted, true);
});

Deno.test("host state: a host is due after its delay and block, not when its slots' leases end", () => {
  const state = newHostState("h");
  assert.equal(hostDueAt(state), 0);
  claimSlot(state, oneSecond, 0, policy, "1");
  // One at a time with a delay: due a delay after the claim, later again after the answer.
  assert.equal(hostDueAt(state), 1000);
  releaseSlot(state, "1", { kind: "ok" }, oneSecond, 300, policy);
  assert.equal(hostDueAt(state), 1300);
  const open = newHostState("o");
  claimSlot(open, noDelay, 0, policy, "1");
  claimSlot(open, noDelay, 0, policy, "2");
  // Full, but a release comes long before the leases end: its requests wait in their process.
  assert.equal(hostDueAt(open), 0, "full is not 'not due'");
  releaseSlot(
    open,
    "1",
    { kind: "throttled", status: 429, retryAfterMs: 5000 },
    noDelay,
    10,
    policy,
  );
  assert.equal(hostDueAt(open), 5010, "blocked");
});
