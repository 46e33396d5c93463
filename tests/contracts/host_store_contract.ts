/**
 * @module
 * One contract every host store keeps, run against each: memory and SQLite (a temp file, two
 * connections as two processes would open it) in spider/politeness/host_store_contract_test.ts,
 * Postgres (a real server, two clients) in tests/postgres_host_store_test.ts.
 */
import assert from "node:assert/strict";
import type { HostLimits } from "../../spider/politeness/host_state.ts";
import type { HostStore } from "../../spider/politeness/host_store.ts";
import type { HostStoreOptions } from "../../spider/politeness/memory_host_store.ts";

/** A backend: `client()` is one more process' view of the same state. */
export interface Backend {
  client(options: HostStoreOptions): Promise<HostStore>;
  dispose(): Promise<void>;
}

/** A clock the test moves by hand, shared by both clients. */
function manualClock(start = 1_000_000) {
  const clock = { now: start, read: () => clock.now };
  return clock;
}

const free: HostLimits = { delayMs: 0, concurrency: 3 };
const delayed: HostLimits = { delayMs: 1000, concurrency: 8 };
const host = "http://a.test:80";

/** Runs the contract against `b`, a step per case. */
export async function hostStoreContract(t: Deno.TestContext, b: Backend): Promise<void> {
  await t.step(
    "two clients share one schedule: a delayed host is not due for either",
    async () => {
      const clock = manualClock();
      const a = await b.client({ now: clock.read });
      const c = await b.client({ now: clock.read });
      const first = await a.claim(host, delayed);
      assert.equal(first.granted, true);
      assert.equal((await c.claim(host, delayed)).granted, false, "one in flight");
      clock.now += 200;
      if (!first.granted) throw new Error("unreachable");
      await a.release(host, first.slot.id, { kind: "ok" }, delayed);
      const early = await c.claim(host, delayed);
      assert.deepEqual(early, {
        granted: false,
        notBefore: clock.now + 1000,
        waitMs: 1000,
        reason: "due",
      });
      clock.now += 1000;
      assert.equal((await c.claim(host, delayed)).granted, true);
      // Another host is not held up by this one.
      assert.equal((await a.claim("http://b.test:80", delayed)).granted, true);
    },
  );

  await t.step(
    "claims racing from two clients never exceed the host's concurrency",
    async () => {
      const clock = manualClock();
      const a = await b.client({ now: clock.read });
      const c = await b.client({ now: clock.read });
      const racing = "http://race.test:80";
      const claims = await Promise.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 ? a : c).claim(racing, free)),
      );
      assert.equal(claims.filter((claim) => claim.granted).length, 3);
      const [snap] = await a.snapshot([racing]);
      assert.equal(snap.inFlight, 3);
      assert.equal(snap.requests, 3);
    },
  );

  await t.step("retry-after blocks the host for every client, and is counted", async () => {
    const clock = manualClock();
    const a = await b.client({ now: clock.read });
    const c = await b.client({ now: clock.read });
    const slow = "http://slow.test:80";
    const claim = await a.claim(slow, free);
    if (!claim.granted) throw new Error("expected a slot");
    await a.release(
      slow,
      claim.slot.id,
      { kind: "throttled", status: 429, retryAfterMs: 2000 },
      free,
    );
    assert.deepEqual(await c.claim(slow, free), {
      granted: false,
      notBefore: clock.now + 2000,
      waitMs: 2000,
      reason: "due",
    });
    await c.addDisallowed(slow, 2);
    const [snap] = await c.snapshot([slow]);
    assert.deepEqual(
      { ...snap },
      {
        host: slow,
        requests: 1,
        throttled: 1,
        disallowed: 2,
        delayMs: 0,
        blockedUntil: clock.now + 2000,
        inFlight: 0,
        // The claim after a block waits for it: what the frontier holds the host for.
        dueInMs: 2000,
      },
    );
    clock.now += 2000;
    assert.equal((await c.claim(slow, free)).granted, true);
  });

  await t.step("robots records are shared and replaced", async () => {
    const a = await b.client({});
    const c = await b.client({});
    const site = "http://robots.test:80";
    assert.equal(await a.robots(site), undefined);
    const record = {
      outcome: "parsed" as const,
      text: "User-agent: *\nDisallow: /x\n",
      fetchedAt: 1,
      expiresAt: 86_400_001,
    };
    await a.saveRobots(site, record);
    assert.deepEqual(await c.robots(site), record);
    const blocked = { outcome: "disallow-all" as const, text: "", fetchedAt: 2, expiresAt: 3 };
    await c.saveRobots(site, blocked);
    assert.deepEqual(await a.robots(site), blocked);
  });

  await t.step(
    "a worker started again frees the slots its killed process held, and no one else's",
    async () => {
      const clock = manualClock();
      const one: HostLimits = { delayMs: 0, concurrency: 1 };
      const [h1, h2, h3] = ["http://own1.test:80", "http://own2.test:80", "http://other.test:80"];
      // The process that is killed: two slots held, never released.
      const killed = await b.client({ now: clock.read, owner: "worker-1" });
      assert.equal((await killed.claim(h1, one)).granted, true);
      assert.equal((await killed.claim(h2, one)).granted, true);
      // The same worker id started again (in one process: the same store).
      const restarted = await b.client({ now: clock.read, owner: "worker-1" });
      // Another worker with a slot of its own, and a view of the hosts beside it.
      const other = await b.client({ now: clock.read, owner: "worker-2" });
      const otherView = await b.client({ now: clock.read, owner: "worker-2" });
      assert.equal((await other.claim(h3, one)).granted, true);
      assert.equal((await restarted.claim(h1, one)).granted, false, "held until freed");
      assert.equal(await restarted.releaseOwn(), 2);
      assert.equal((await restarted.claim(h1, one)).granted, true);
      assert.equal((await restarted.claim(h2, one)).granted, true);
      assert.equal((await otherView.claim(h3, one)).granted, false, "worker-2's slot is kept");
      assert.equal(await restarted.releaseOwn(), 2, "the slots it took since are its own too");
      // A store that names no owner frees nothing.
      assert.equal(await (await b.client({ now: clock.read })).releaseOwn(), 0);
    },
  );
}
