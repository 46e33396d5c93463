import assert from "node:assert/strict";
import { startPostgres, waitFor } from "./kit/mod.ts";
import { openPostgresFrontier } from "../frontier/postgres_frontier.ts";
import { toRequest } from "../frontier/crawl_request.ts";

Deno.test("the time the server was down does not count against a lease", async () => {
  await using pg = await startPostgres();
  const holder = await openPostgresFrontier(pg.url);
  const other = await openPostgresFrontier(pg.url);
  try {
    await holder.begin("outage", { roots: [toRequest({ url: "http://o.test/", ruleName: "p" })] });
    // Long enough that the restarted server answers within it even on a loaded machine: a
    // first answer later than a lease time after the restart would rightly find it expired.
    const leaseMs = 4000;
    const [claim] = await holder.claim("outage", { owner: "w1", limit: 1, leaseMs });
    assert.ok(claim);
    await pg.crash();
    // The outage under test outlasts the lease: its holder could not renew it meanwhile.
    await new Promise((resolve) => setTimeout(resolve, leaseMs + 200));
    await pg.restart();
    const claimOther = () => other.claim("outage", { owner: "w2", limit: 1, leaseMs: 60_000 });
    // Back: the lease holds for its length again, so its holder can renew it.
    // (Connections are refused until the restarted server takes queries.)
    assert.deepEqual(
      await waitFor(claimOther, { what: "the restarted server to answer", timeoutMs: 10_000 }),
      [],
    );
    assert.deepEqual(await other.counts("outage"), {
      queued: 0,
      leased: 1,
      done: 0,
      failed: 0,
      scheduled: 0,
      due: 0,
    });
    await holder.extend([claim], leaseMs);
    assert.deepEqual(await claimOther(), []);
    // A holder that stays silent loses it a lease time later, as ever.
    const started = performance.now();
    const taken = await waitFor(async () => {
      const taken = await claimOther();
      return taken.length > 0 && taken;
    }, { what: "the lease to expire", timeoutMs: 10_000, intervalMs: 50 });
    assert.equal(taken[0].generation, claim.generation + 1);
    assert.ok(performance.now() - started >= leaseMs - 200, "not before its renewed lease ended");
  } finally {
    await holder.close();
    await other.close();
  }
});
