/**
 * @module
 * The frontier's part of recrawling (docs/frontier.md, "Recrawl"), kept by every frontier: run
 * in memory and on SQLite in frontier/frontier_contract_test.ts, on Postgres in
 * tests/frontier_contract_test.ts. A page acknowledged with a revisit is queued again, due after
 * its interval, and its next claim carries what its last visit left.
 */
import assert from "node:assert/strict";
import type { Claim, Frontier, Outcome, PageRecord } from "../../frontier/frontier.ts";
import { type CrawlRequest, toRequest } from "../../frontier/crawl_request.ts";
import { waitFor } from "../kit/wait.ts";
import type { Backend } from "./frontier_contract.ts";

const req = (url: string): CrawlRequest => toRequest({ ruleName: "page", url });

const claimAll = (f: Frontier, task: string, owner = "w1") =>
  f.claim(task, { owner, limit: 1000, leaseMs: 60_000 });

const record = (intervalMs: number, extra: Partial<PageRecord> = {}): PageRecord => ({
  fetchedAt: Date.now(),
  intervalMs,
  etag: '"v1"',
  lastModified: "Sat, 05 Dec 2026 10:00:00 GMT",
  hash: "abc123",
  ...extra,
});

const revisit = (claim: Claim, page: PageRecord, children: CrawlRequest[] = []): Outcome => ({
  kind: "done",
  claim,
  children,
  revisit: page,
});

/** Claims the task's requests until one comes, within `timeoutMs`. */
async function claimWhenDue(f: Frontier, task: string, what: string): Promise<Claim[]> {
  let claims: Claim[] = [];
  await waitFor(async () => (claims = await claimAll(f, task)).length > 0, {
    what,
    timeoutMs: 5000,
  });
  return claims;
}

/** Runs the revisit contract against `backend`, a step per case. */
export async function frontierRevisitContract(
  t: Deno.TestContext,
  backend: Backend,
): Promise<void> {
  const f = await backend.client();
  const other = await backend.client();

  await t.step(
    "a page acknowledged with a revisit waits its interval; never finished",
    async () => {
      await f.begin("rv-wait", { roots: [req("http://rv.test/")] });
      const [root] = await claimAll(f, "rv-wait");
      assert.equal(root.page, undefined, "a first claim has no page record");
      const before = Date.now();
      assert.deepEqual(
        await f.complete([revisit(root, record(60_000), [req("http://rv.test/a")])]),
        [true],
      );
      const { nextRevisitMs, ...counts } = await f.counts("rv-wait");
      assert.deepEqual(counts, { queued: 1, leased: 0, done: 0, failed: 0, scheduled: 1, due: 0 });
      assert.ok(
        nextRevisitMs !== undefined && nextRevisitMs > 50_000 && nextRevisitMs <= 60_000,
        `the revisit is due in ${nextRevisitMs} ms, not ~60 s`,
      );
      // Only the child is due; the page waits for its revisit.
      const [child] = await claimAll(f, "rv-wait");
      assert.equal(child.request.url, "http://rv.test/a");
      assert.deepEqual(await claimAll(other, "rv-wait"), []);
      assert.equal(await f.finished("rv-wait", { once: true }), false, "the child is leased");
      await f.complete([revisit(child, record(90_000))]);
      assert.deepEqual(await claimAll(f, "rv-wait"), [], "nothing is fetched before it is due");
      assert.equal(await f.finished("rv-wait"), false, "a recrawl task is never finished");
      assert.equal(await f.finished("rv-wait", { once: true }), true, "run once: all fetched");
      const due = await f.nextDue("rv-wait");
      assert.ok(
        due !== undefined && due > 50_000 && due <= 60_000 + (Date.now() - before),
        `next due in ${due} ms, not ~60 s`,
      );
      // Beginning it again (a restart, no crawl id) resumes the schedule.
      const again = await f.begin("rv-wait", { roots: [req("http://rv.test/")] });
      assert.equal(again.mode, "resumed");
      assert.equal(again.counts.scheduled, 2);
    },
  );

  await t.step("a revisit is claimed once due, with what its last visit left", async () => {
    await f.begin("rv-due", { roots: [req("http://rv.test/due")] });
    const [first] = await claimAll(f, "rv-due");
    const page = record(150);
    await f.complete([revisit(first, page)]);
    await waitFor(async () => (await f.counts("rv-due")).due === 1, {
      what: "the page due",
      timeoutMs: 5000,
    });
    assert.equal((await f.counts("rv-due")).nextRevisitMs, undefined, "none is still to come");
    assert.equal(await f.finished("rv-due", { once: true }), false, "a due revisit is work");
    const [second] = await claimWhenDue(f, "rv-due", "the revisit claimed");
    assert.deepEqual(second.page, page);
    assert.equal(second.request.attempt, 0);
    assert.deepEqual(await claimAll(other, "rv-due"), [], "one claimer per revisit");
    // A record without validators comes back without them.
    const bare: PageRecord = { fetchedAt: Date.now(), intervalMs: 150 };
    await f.complete([revisit(second, bare)]);
    const [third] = await claimWhenDue(other, "rv-due", "the second revisit claimed");
    assert.deepEqual(third.page, bare);
    // Acknowledged without a revisit (a run once), it is done for good.
    await other.complete([{ kind: "done", claim: third, children: [] }]);
    assert.equal(await f.finished("rv-due"), true);
    assert.equal((await f.counts("rv-due")).done, 1);
  });

  await t.step("a stale claim's revisit does not count", async () => {
    await f.begin("rv-stale", { roots: [req("http://rv.test/stale")] });
    const [claim] = await f.claim("rv-stale", { owner: "w1", limit: 1, leaseMs: 1 });
    await waitFor(async () => (await claimAll(other, "rv-stale", "w2")).length === 1, {
      what: "the expired lease claimed again",
      timeoutMs: 5000,
    });
    assert.deepEqual(await f.complete([revisit(claim, record(150))]), [false]);
    const counts = await f.counts("rv-stale");
    assert.deepEqual([counts.leased, counts.scheduled], [1, 0]);
  });

  await t.step("a page failed for good is visited again after revisitAfterMs", async () => {
    await f.begin("rv-fail", { roots: [req("http://rv.test/gone")] });
    const [claim] = await claimAll(f, "rv-fail");
    const failedAt = Date.now();
    await f.complete([{
      kind: "failed",
      claim,
      error: "HTTP 404",
      retries: 0,
      revisitAfterMs: 150,
    }]);
    // Scheduled (not failed, not queued): the task waits for it like for any revisit.
    const counts = await f.counts("rv-fail");
    assert.deepEqual([counts.failed, counts.queued, counts.scheduled], [0, 0, 1]);
    const [again] = await claimWhenDue(f, "rv-fail", "the failed page revisited");
    assert.ok(Date.now() - failedAt >= 140, "not before its time");
    assert.equal(again.request.attempt, 0, "its attempts start anew");
    assert.ok(again.page && again.page.fetchedAt >= failedAt - 1000);
    assert.equal(again.page?.intervalMs, 150);
    // Without revisitAfterMs a failure for good stays failed.
    await f.complete([{ kind: "failed", claim: again, error: "HTTP 404", retries: 0 }]);
    assert.equal((await f.counts("rv-fail")).failed, 1);
  });

  await t.step("a revisit failed for good keeps its validators", async () => {
    await f.begin("rv-keep", { roots: [req("http://rv.test/keep")] });
    const [first] = await claimAll(f, "rv-keep");
    await f.complete([revisit(first, record(100, { etag: '"k1"' }))]);
    const [second] = await claimWhenDue(f, "rv-keep", "the revisit claimed");
    await f.complete([{
      kind: "failed",
      claim: second,
      error: "timed out",
      retries: 0,
      revisitAfterMs: 100,
    }]);
    const [third] = await claimWhenDue(f, "rv-keep", "the page visited again");
    assert.equal(third.page?.etag, '"k1"');
    assert.equal(third.page?.hash, "abc123");
  });

  await t.step("release returns a revisit with its record, due at once", async () => {
    await f.begin("rv-release", { roots: [req("http://rv.test/r")] });
    const [first] = await claimAll(f, "rv-release");
    const page = record(100);
    await f.complete([revisit(first, page)]);
    const [second] = await claimWhenDue(f, "rv-release", "the revisit claimed");
    await f.release([second]);
    const [third] = await claimAll(other, "rv-release");
    assert.deepEqual(third?.page, page);
  });

  await t.step("dropping a recrawl task removes its schedule", async () => {
    await f.begin("rv-drop", { roots: [req("http://rv.test/d")] });
    const [first] = await claimAll(f, "rv-drop");
    await f.complete([revisit(first, record(60_000))]);
    await f.drop("rv-drop");
    assert.equal((await f.counts("rv-drop")).scheduled, 0);
    assert.equal(await f.nextDue("rv-drop"), undefined);
  });
}
