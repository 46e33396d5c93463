import assert from "node:assert/strict";
import { startPostgres } from "../tests/postgres_server.ts";
import { openPostgresFrontier } from "./postgres_frontier.ts";
import { toRequest } from "../spider/request.ts";

Deno.test("the time the server was down does not count against a lease", async () => {
  await using pg = await startPostgres();
  const holder = await openPostgresFrontier(pg.url);
  const other = await openPostgresFrontier(pg.url);
  try {
    await holder.begin("outage", { roots: [toRequest({ url: "http://o.test/", ruleName: "p" })] });
    const leaseMs = 1500;
    const [claim] = await holder.claim("outage", { owner: "w1", limit: 1, leaseMs });
    assert.ok(claim);
    await pg.crash();
    // The outage outlasts the lease: its holder could not renew it meanwhile.
    await new Promise((resolve) => setTimeout(resolve, leaseMs + 200));
    await pg.restart();
    const claimOther = () => other.claim("outage", { owner: "w2", limit: 1, leaseMs: 60_000 });
    // Back: the lease holds for its length again, so its holder can renew it.
    assert.deepEqual(await waitForAnswer(claimOther), []);
    assert.deepEqual(await other.counts("outage"), { queued: 0, leased: 1, done: 0, failed: 0 });
    await holder.extend([claim], leaseMs);
    assert.deepEqual(await claimOther(), []);
    // A holder that stays silent loses it a lease time later, as ever.
    const started = performance.now();
    let taken = await claimOther();
    while (taken.length === 0) {
      assert.ok(performance.now() - started < 10_000, "the lease never expired");
      await new Promise((resolve) => setTimeout(resolve, 50));
      taken = await claimOther();
    }
    assert.equal(taken[0].generation, claim.generation + 1);
    assert.ok(performance.now() - started >= leaseMs - 200, "not before its renewed lease ended");
  } finally {
    await holder.close();
    await other.close();
  }
});

/** `work`'s answer once the restarted server takes queries (connections refused until then). */
async function waitForAnswer<T>(work: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return await work();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}
