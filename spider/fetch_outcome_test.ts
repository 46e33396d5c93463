import assert from "node:assert/strict";
import { type FetchOutcome, frontierOutcome } from "./fetch_outcome.ts";
import { MemoryFrontier } from "../frontier/memory_frontier.ts";
import type { Claim } from "../frontier/frontier.ts";

const URL_A = "http://site.test/a";

/** A frontier holding one request, claimed once: what each outcome makes of it. */
async function claimOne(now: () => number): Promise<{ frontier: MemoryFrontier; claim: Claim }> {
  const frontier = new MemoryFrontier({ now });
  await frontier.begin("t", {
    roots: [{ url: URL_A, method: "GET", depth: 0, priority: 0, ruleName: "page", attempt: 0 }],
  });
  const [claim] = await frontier.claim("t", { owner: "w", limit: 1, leaseMs: 60_000 });
  return { frontier, claim };
}

async function settle(make: (claim: Claim) => FetchOutcome) {
  let now = 1_000;
  const { frontier, claim } = await claimOne(() => now);
  await frontier.complete([frontierOutcome(make(claim))]);
  const counts = await frontier.counts("t");
  now += 10_000;
  const [again] = await frontier.claim("t", { owner: "w", limit: 1, leaseMs: 60_000 });
  return { counts, attempt: again?.request.attempt };
}

Deno.test("a retry is queued again with one attempt used, whatever its retries", async () => {
  const { counts, attempt } = await settle((claim) => ({
    kind: "retry",
    reason: "parse-lost",
    claim,
    error: "page not parsed",
  }));
  assert.equal(counts.queued, 1);
  assert.equal(attempt, 1);
});

Deno.test("a failure is failed for good and a drop is done", async () => {
  const failed = await settle((claim) => ({
    kind: "failed",
    reason: "no-rule",
    claim,
    error: 'no such rule "page"',
    cause: new Error("no rule"),
  }));
  assert.equal(failed.counts.failed, 1);
  const dropped = await settle((claim) => ({
    kind: "dropped",
    reason: "disallowed",
    claim,
    host: "site.test",
  }));
  assert.equal(dropped.counts.done, 1);
});

Deno.test("a deferred request goes back untried, due after its wait", async () => {
  const { counts, attempt } = await settle((claim) => ({
    kind: "deferred",
    reason: "not-due",
    claim,
    error: "host not due",
    waitMs: 5_000,
    hostWaitMs: 5_000,
  }));
  assert.equal(counts.queued, 1);
  assert.equal(attempt, 0, "no attempt used");
});

Deno.test("the acknowledgement carries the retry delay and the host's wait, none when unknown", () => {
  const claim = {
    id: 1,
    generation: 1,
    task: "t",
    crawl: "c",
    request: { url: URL_A, method: "GET", depth: 0, priority: 0, ruleName: "page", attempt: 2 },
  };
  assert.deepEqual(
    frontierOutcome({
      kind: "retry",
      reason: "fetch",
      claim,
      error: "HTTP 500",
      cause: undefined,
      delayMs: 200,
      hostWaitMs: 30,
    }),
    { kind: "failed", claim, error: "HTTP 500", retries: 3, retryDelayMs: 200, hostWaitMs: 30 },
  );
  assert.deepEqual(
    frontierOutcome({ kind: "done", claim, children: [], items: [] }),
    { kind: "done", claim, children: [] },
  );
});
