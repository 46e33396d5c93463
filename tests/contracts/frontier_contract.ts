/**
 * @module
 * One contract every frontier keeps, run against each: in memory and SQLite (a temporary file)
 * in frontier/frontier_contract_test.ts, Postgres (a real server) in
 * tests/frontier_contract_test.ts. `client()` is another worker's view of the same frontier: a
 * second connection or file handle. Claims by several processes at once run on the durable ones,
 * in tests/.
 */
import assert from "node:assert/strict";
import type { Claim, Frontier, Outcome } from "../../frontier/frontier.ts";

import { type CrawlRequest, toRequest } from "../../frontier/crawl_request.ts";
import { openHostStore } from "../../spider/politeness/open_host_store.ts";
import { holdsFor, waitFor } from "../kit/wait.ts";

/** One frontier's storage for a test. */
export interface Backend {
  /** A frontier over the backend's storage; each call is another client of the same data. */
  client(): Promise<Frontier>;
  /** What `tests/_frontier_claimer.ts` opens in another process; undefined in memory. */
  url?: string;
  dispose(): Promise<void>;
}

const req = (url: string, init: Partial<CrawlRequest> = {}): CrawlRequest =>
  toRequest({ ruleName: "page", ...init, url });

const urls = (claims: Claim[]) => claims.map((c) => c.request.url);

const done = (claim: Claim, children: CrawlRequest[] = []): Outcome => ({
  kind: "done",
  claim,
  children,
});

const claimAll = (f: Frontier, task: string, owner = "w1", leaseMs = 60_000) =>
  f.claim(task, { owner, limit: 1000, leaseMs });

/** Runs the contract against `backend`, a step per case. */
export async function frontierContract(t: Deno.TestContext, backend: Backend): Promise<void> {
  const f = await backend.client();

  await t.step("a new crawl holds its roots, deduplicated by normalised URL", async () => {
    const opening = await f.begin("dedupe", {
      roots: [req("http://a.test/x?b=1&a=2"), req("HTTP://A.test:80/x?a=2&b=1#top")],
    });
    assert.equal(opening.mode, "new");
    assert.deepEqual(opening.counts, {
      queued: 1,
      leased: 0,
      done: 0,
      failed: 0,
      scheduled: 0,
      due: 0,
    });
    assert.equal(
      await f.add("dedupe", [req("http://a.test/x?a=2&b=1"), req("http://a.test/y")]),
      1,
    );
    assert.equal(await f.add("dedupe", [req("http://a.test/x", { method: "POST" })]), 1);
    assert.deepEqual(await f.counts("dedupe"), {
      queued: 3,
      leased: 0,
      done: 0,
      failed: 0,
      scheduled: 0,
      due: 0,
    });
    // A request done stays known: finding it again does not queue it.
    const claims = await claimAll(f, "dedupe");
    assert.deepEqual(await f.complete(claims.map((c) => done(c))), [true, true, true]);
    assert.equal(await f.add("dedupe", [req("http://a.test/y")]), 0);
    // Another task has its own keys.
    await f.begin("other", { roots: [req("http://a.test/y")] });
    assert.equal((await f.counts("other")).queued, 1);
  });

  await t.step("with reload every request is queued", async () => {
    await f.begin("reload", { roots: [req("http://a.test/r")], reload: true });
    assert.equal(await f.add("reload", [req("http://a.test/r"), req("http://a.test/r")]), 2);
    assert.equal((await f.counts("reload")).queued, 3);
  });

  await t.step("claims keep what the request carries, priority first, then FIFO", async () => {
    await f.begin("order", { roots: [req("http://o.test/1")] });
    await f.add("order", [
      req("http://o.test/2"),
      req("http://o.test/p1", { priority: 1 }),
      req("http://o.test/3", { depth: 2, method: "POST", ruleName: "detail", tmp: { n: 7 } }),
      req("http://o.test/p2", { priority: 5 }),
    ]);
    const first = await f.claim("order", { owner: "w1", limit: 3, leaseMs: 60_000 });
    assert.deepEqual(urls(first), ["http://o.test/p1", "http://o.test/p2", "http://o.test/1"]);
    const rest = await claimAll(f, "order");
    assert.deepEqual(urls(rest), ["http://o.test/2", "http://o.test/3"]);
    assert.deepEqual(rest[1].request, {
      url: "http://o.test/3",
      method: "POST",
      depth: 2,
      priority: 0,
      ruleName: "detail",
      tmp: { n: 7 },
      attempt: 0,
    });
    assert.equal(rest[1].generation, 1);
    // Everything is leased: nobody else gets any of it.
    const other = await backend.client();
    assert.deepEqual(await claimAll(other, "order", "w2"), []);
    assert.deepEqual(await f.counts("order"), {
      queued: 0,
      leased: 5,
      done: 0,
      failed: 0,
      scheduled: 0,
      due: 0,
    });
  });

  await t.step("an ack queues the children with the parent done, once", async () => {
    await f.begin("ack", { roots: [req("http://k.test/")] });
    const [root] = await claimAll(f, "ack");
    const children = [
      req("http://k.test/a", { depth: 1 }),
      req("http://k.test/b", { depth: 1 }),
    ];
    assert.deepEqual(await f.complete([done(root, children)]), [true]);
    assert.deepEqual(await f.counts("ack"), {
      queued: 2,
      leased: 0,
      done: 1,
      failed: 0,
      scheduled: 0,
      due: 0,
    });
    // The same ack again (a retried batch) does not count twice.
    assert.deepEqual(await f.complete([done(root, children)]), [false]);
    assert.deepEqual(await f.counts("ack"), {
      queued: 2,
      leased: 0,
      done: 1,
      failed: 0,
      scheduled: 0,
      due: 0,
    });
  });

  await t.step("one ack of several tasks' outcomes records each in its own task", async () => {
    await f.begin("ack-x", { roots: [req("http://x.test/")] });
    await f.begin("ack-y", { roots: [req("http://y.test/"), req("http://y.test/gone")] });
    const [x] = await claimAll(f, "ack-x");
    const [y, gone] = await claimAll(f, "ack-y");
    await f.begin("ack-z", { roots: [req("http://z.test/")] });
    const [z] = await claimAll(f, "ack-z");
    await f.drop("ack-z"); // its claim is no longer current
    const counted = await f.complete([
      done(y, [req("http://y.test/child", { depth: 1 })]),
      done(z, [req("http://z.test/child", { depth: 1 })]),
      done(x, [req("http://x.test/child", { depth: 1 })]),
      { kind: "failed", claim: gone, error: "HTTP 404", retries: 0 },
    ]);
    assert.deepEqual(counted, [true, false, true, true]);
    assert.deepEqual(
      [await f.counts("ack-x"), await f.counts("ack-y")].map((c) => [c.queued, c.done, c.failed]),
      [[1, 1, 0], [1, 1, 1]],
    );
    assert.deepEqual(urls(await claimAll(f, "ack-x")), ["http://x.test/child"]);
    assert.deepEqual(urls(await claimAll(f, "ack-y")), ["http://y.test/child"]);
    assert.equal(await f.finished("ack-z"), true);
  });

  await t.step("failures are retried until `retries` is used up, then failed", async () => {
    await f.begin("fail", { roots: [req("http://f.test/a"), req("http://f.test/b")] });
    let [a, b] = await claimAll(f, "fail");
    const failed = (claim: Claim, retries: number): Outcome => ({
      kind: "failed",
      claim,
      error: "HTTP 500",
      retries,
    });
    assert.deepEqual(await f.complete([failed(a, 1), failed(b, 0)]), [true, true]);
    assert.deepEqual(await f.counts("fail"), {
      queued: 1,
      leased: 0,
      done: 0,
      failed: 1,
      scheduled: 0,
      due: 0,
    });
    [a] = await claimAll(f, "fail");
    assert.equal(a.request.attempt, 1);
    assert.deepEqual(await f.complete([failed(a, 1)]), [true]);
    assert.deepEqual(await f.counts("fail"), {
      queued: 0,
      leased: 0,
      done: 0,
      failed: 2,
      scheduled: 0,
      due: 0,
    });
    assert.equal(await f.finished("fail"), true);
  });

  await t.step("a retry waits its delay before it is due again", async () => {
    await f.begin("delay", { roots: [req("http://d.test/")] });
    const [c] = await claimAll(f, "delay");
    await f.complete([{ kind: "failed", claim: c, error: "x", retries: 3, retryDelayMs: 300 }]);
    const started = Date.now();
    assert.deepEqual(await claimAll(f, "delay"), []);
    assert.equal(await f.finished("delay"), false);
    let again: Claim[] = [];
    await waitFor(async () => (again = await claimAll(f, "delay")).length > 0, {
      what: "the retry",
    });
    assert.ok(Date.now() - started >= 250, "due only after the delay");
    assert.equal(again[0].request.attempt, 1);
  });

  await t.step("a request put back untried waits without using an attempt", async () => {
    await f.begin("later", { roots: [req("http://l.test/")] });
    const [c] = await claimAll(f, "later");
    const putBack: Outcome = {
      kind: "failed",
      claim: c,
      error: "host not due",
      retries: 0,
      retryDelayMs: 200,
      counted: false,
    };
    assert.deepEqual(await f.complete([putBack]), [true]);
    assert.deepEqual(await claimAll(f, "later"), []);
    assert.deepEqual(await f.counts("later"), {
      queued: 1,
      leased: 0,
      done: 0,
      failed: 0,
      scheduled: 0,
      due: 0,
    });
    let again: Claim[] = [];
    await waitFor(async () => (again = await claimAll(f, "later")).length > 0, { what: "it due" });
    assert.equal(again[0].request.attempt, 0);
  });

  if (backend.url) {
    await t.step("claims can skip hosts that politeness says are not due", async () => {
      const hosts = openHostStore(backend.url!);
      try {
        await f.begin("hosts", {
          roots: [
            req("http://slow.test/1"),
            req("http://slow.test/2"),
            req("http://fast.test/1"),
          ],
        });
        // A request to slow.test is in flight with a 60 s delay: the host is not due.
        assert.equal(
          (await hosts.claim("http://slow.test:80", { delayMs: 60_000, concurrency: 1 }))
            .granted,
          true,
        );
        const polite = await f.claim("hosts", {
          owner: "w1",
          limit: 10,
          leaseMs: 60_000,
          skipHostsNotDue: true,
        });
        assert.deepEqual(urls(polite), ["http://fast.test/1"]);
        // The skipped host's requests wait in the queue.
        assert.equal((await f.counts("hosts")).queued, 2);
      } finally {
        await hosts.close();
      }
    });
  }

  await t.step("claims take turns over ready hosts, at most perHost each", async () => {
    const page = (host: string, n: number) => req(`http://${host}.test/${n}`);
    await f.begin("fair", {
      roots: ["a", "b", "c"].flatMap((h) => [0, 1, 2, 3].map((n) => page(h, n))),
    });
    const turn = (limit: number) =>
      f.claim("fair", { owner: "w1", limit, leaseMs: 60_000, perHost: 1 });
    // One request of each host, in the order the hosts first had some.
    assert.deepEqual(
      urls(await turn(3)),
      [page("a", 0), page("b", 0), page("c", 0)].map((r) => r.url),
    );
    // A limit below the hosts: the hosts served last wait for the next turn.
    assert.deepEqual(urls(await turn(2)), [page("a", 1), page("b", 1)].map((r) => r.url));
    // (Claims come out by id; which hosts took the turn is what counts.)
    assert.deepEqual(
      urls(await turn(2)).sort(),
      [page("a", 2), page("c", 1)].map((r) => r.url),
    );
    const many = await f.claim("fair", { owner: "w1", limit: 10, leaseMs: 60_000, perHost: 2 });
    assert.deepEqual(
      urls(many).sort(),
      [page("a", 3), page("b", 2), page("b", 3), page("c", 2), page("c", 3)].map((r) => r.url),
    );
  });

  await t.step(
    "a held host waits for its outcome, then as long as the outcome says",
    async () => {
      await f.begin("hold", {
        roots: [req("http://h.test/1"), req("http://h.test/2"), req("http://h.test/3")],
      });
      const claimHeld = () =>
        f.claim("hold", {
          owner: "w1",
          limit: 10,
          leaseMs: 60_000,
          perHost: 1,
          hostHoldMs: 60_000,
        });
      const [first] = await claimHeld();
      assert.equal(first.request.url, "http://h.test/1");
      assert.deepEqual(await claimHeld(), [], "held until its outcome");
      assert.ok((await f.nextDue("hold"))! > 1000);
      assert.deepEqual(await f.complete([{ ...done(first), hostWaitMs: 0 }]), [true]);
      assert.equal(await f.nextDue("hold"), 0);
      const [second] = await claimHeld();
      assert.equal(second.request.url, "http://h.test/2");
      // The outcome says the host is next due in 300 ms (its politeness delay).
      await f.complete([{ ...done(second), hostWaitMs: 300 }]);
      const told = Date.now();
      assert.deepEqual(await claimHeld(), []);
      let third: Claim[] = [];
      await waitFor(async () => (third = await claimHeld()).length > 0, {
        what: "the host's turn",
      });
      assert.ok(Date.now() - told >= 250, "not before the host was due");
      assert.equal(third[0].request.url, "http://h.test/3");
      // An outcome without word from politeness ends the hold at once; a release too.
      await f.add("hold", [req("http://h.test/4")]);
      await f.release(third);
      assert.equal((await claimHeld())[0].request.url, "http://h.test/3");
      assert.equal(await f.nextDue("nothing-here"), undefined);
    },
  );

  await t.step("hosts that are not due cost a claim nothing", async () => {
    // 20,000 hosts held for an hour beside 5 ready ones: a claim reads only the ready ones, even
    // when it asks for more than they have.
    const held = Array.from({ length: 20_000 }, (_, i) => req(`http://held${i}.test/`));
    const ready = (task: string) =>
      Array.from({ length: 200 }, (_, i) => req(`http://r${i % 5}.test/${task}/${i}`));
    await f.begin("big", { roots: [] });
    await f.add("big", held);
    const holding = await f.claim("big", {
      owner: "w1",
      limit: 20_000,
      leaseMs: 3_600_000,
      perHost: 1,
    });
    assert.equal(holding.length, 20_000);
    await f.complete(holding.map((claim) => ({
      kind: "failed",
      claim,
      error: "host not due",
      retries: 0,
      counted: false,
      hostWaitMs: 3_600_000,
    })));
    await f.add("big", ready("big"));
    await f.begin("small", { roots: ready("small") });
    /** One claim of `task`: how long it took, ms. */
    const claimTime = async (task: string, taken: { n: number }) => {
      const started = performance.now();
      const claims = await f.claim(task, { owner: "w1", limit: 8, leaseMs: 60_000, perHost: 1 });
      const ms = performance.now() - started;
      taken.n += claims.length;
      assert.ok(claims.every((c) => !c.request.url.includes("held")), "a held host was claimed");
      return ms;
    };
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
    // Warm up (the first claims of a connection prepare their statements), then start afresh.
    for (let i = 0; i < 10; i++) await claimTime("small", { n: 0 });
    await f.begin("small", { roots: ready("small"), fresh: true });
    // The two tasks' claims alternate, so a busy moment of the machine weighs on both alike;
    // the medians leave out the odd slow claim.
    const small: number[] = [];
    const big: number[] = [];
    const takenSmall = { n: 0 };
    const takenBig = { n: 0 };
    for (let i = 0; i < 40; i++) {
      small.push(await claimTime("small", takenSmall));
      big.push(await claimTime("big", takenBig));
    }
    assert.deepEqual([takenSmall.n, takenBig.n], [200, 200]);
    assert.ok(
      median(big) < median(small) * 3 + 1,
      `a claim beside 20,000 held hosts took ${median(big)} ms (median), ${
        median(small)
      } ms without`,
    );
    assert.equal((await f.counts("big")).queued, 20_000);
  });

  await t.step("an expired lease returns the URL; the old claim no longer counts", async () => {
    await f.begin("lease", { roots: [req("http://l.test/")] });
    const [old] = await f.claim("lease", { owner: "w1", limit: 10, leaseMs: 200 });
    const other = await backend.client();
    assert.deepEqual(await claimAll(other, "lease", "w2"), []);
    let taken: Claim[] = [];
    await waitFor(async () => (taken = await claimAll(other, "lease", "w2")).length > 0, {
      what: "the lease to expire",
    });
    assert.deepEqual(urls(taken), ["http://l.test/"]);
    assert.equal(taken[0].generation, old.generation + 1);
    const child = [req("http://l.test/child", { depth: 1 })];
    assert.deepEqual(await f.complete([done(old, child)]), [false]);
    await f.release([old]);
    await f.extend([old], 60_000);
    assert.deepEqual(await f.counts("lease"), {
      queued: 1,
      leased: 1,
      done: 0,
      failed: 0,
      scheduled: 0,
      due: 0,
    });
    assert.deepEqual(await other.complete([done(taken[0], child)]), [true]);
    assert.deepEqual(await f.counts("lease"), {
      queued: 1,
      leased: 0,
      done: 1,
      failed: 0,
      scheduled: 0,
      due: 0,
    });
  });

  await t.step("extend keeps a lease; release returns it at once", async () => {
    await f.begin("extend", { roots: [req("http://e.test/1"), req("http://e.test/2")] });
    const [one, two] = await f.claim("extend", { owner: "w1", limit: 2, leaseMs: 300 });
    await f.extend([one], 60_000);
    await f.release([two]);
    const other = await backend.client();
    assert.deepEqual(urls(await claimAll(other, "extend", "w2")), ["http://e.test/2"]);
    await waitFor(async () => (await f.counts("extend")).queued === 0, {
      what: "the released claim taken",
    });
    // Long past the first lease time (300 ms), `one` is still held.
    await holdsFor(async () => (await claimAll(other, "extend", "w2")).length === 0, {
      what: "the extended lease held",
      forMs: 400,
      intervalMs: 100,
    });
    assert.deepEqual(await f.complete([done(one)]), [true]);
  });

  await t.step("begin resumes an unfinished crawl, starts a finished one afresh", async () => {
    const first = await f.begin("resume", { roots: [req("http://r.test/")], owner: "w1" });
    assert.deepEqual([first.mode, first.mode === "new" && first.reason], ["new", "first"]);
    const [root] = await claimAll(f, "resume", "w1");
    await f.complete([done(root, [req("http://r.test/a"), req("http://r.test/b")])]);
    const held = await f.claim("resume", { owner: "w1", limit: 1, leaseMs: 60_000 });
    assert.equal(held.length, 1);
    // The same worker starts again: its old leases come back at once.
    const again = await f.begin("resume", { roots: [req("http://r.test/")], owner: "w1" });
    assert.equal(again.mode, "resumed");
    assert.equal(again.crawl, first.crawl);
    assert.deepEqual(again.counts, {
      queued: 2,
      leased: 0,
      done: 1,
      failed: 0,
      scheduled: 0,
      due: 0,
    });
    // Another worker joining does not take anyone's leases.
    const mine = await f.claim("resume", { owner: "w1", limit: 1, leaseMs: 60_000 });
    const joined = await f.begin("resume", { roots: [], owner: "w2" });
    assert.equal(joined.mode, "resumed");
    assert.equal((await f.counts("resume")).leased, 1);
    await f.complete([done(mine[0])]);
    await f.complete((await claimAll(f, "resume")).map((c) => done(c)));
    assert.equal(await f.finished("resume"), true);
    const next = await f.begin("resume", { roots: [req("http://r.test/")] });
    assert.deepEqual([next.mode, next.mode === "new" && next.reason], ["new", "finished"]);
    assert.notEqual(next.crawl, first.crawl);
    assert.deepEqual(next.counts, {
      queued: 1,
      leased: 0,
      done: 0,
      failed: 0,
      scheduled: 0,
      due: 0,
    });
    const fresh = await f.begin("resume", { roots: [req("http://r.test/")], fresh: true });
    assert.deepEqual([fresh.mode, fresh.mode === "new" && fresh.reason], ["new", "fresh"]);
  });

  await t.step("a crawl id joins that crawl; another id replaces it", async () => {
    const a = await f.begin("res", { crawl: "id-1", roots: [req("http://c.test/")] });
    assert.equal(a.mode, "new");
    const [root] = await claimAll(f, "res");
    await f.complete([done(root)]);
    // Finished, same id: a worker starting it again finds nothing to do.
    const same = await f.begin("res", { crawl: "id-1", roots: [req("http://c.test/")] });
    assert.equal(same.mode, "resumed");
    assert.equal(await f.finished("res"), true);
    const b = await f.begin("res", { crawl: "id-2", roots: [req("http://c.test/")] });
    assert.deepEqual([b.mode, b.mode === "new" && b.reason], ["new", "replaced"]);
    // An ack for the replaced crawl counts nothing and adds nothing.
    assert.deepEqual(await f.complete([done(root, [req("http://c.test/x")])]), [false]);
    assert.deepEqual(await f.counts("res"), {
      queued: 1,
      leased: 0,
      done: 0,
      failed: 0,
      scheduled: 0,
      due: 0,
    });
  });

  await t.step("a task whose definition changed starts a new crawl", async () => {
    const v1 = JSON.stringify({ roots: "a", rules: "r1", reload: false, depth: 5 });
    const first = await f.begin("def", { roots: [req("http://old.test/")], definition: v1 });
    assert.equal(first.mode, "new");
    assert.equal((await f.begin("def", { roots: [], definition: v1 })).mode, "resumed");
    const v2 = JSON.stringify({ roots: "b", rules: "r1", reload: false, depth: 5 });
    const changed = await f.begin("def", { roots: [req("http://new.test/")], definition: v2 });
    assert.equal(changed.mode, "new");
    assert.equal(changed.mode === "new" && changed.reason, "changed");
    assert.deepEqual(changed.mode === "new" && changed.changed, ["roots"]);
    assert.deepEqual(urls(await claimAll(f, "def")), ["http://new.test/"]);
    // Without a definition nothing is compared: the crawl resumes.
    assert.equal((await f.begin("def", { roots: [] })).mode, "resumed");
  });

  await t.step("drop removes a task's crawl, unless a newer crawl took its place", async () => {
    await f.begin("drop", { crawl: "new", roots: [req("http://x.test/")] });
    await f.drop("drop", { crawl: "old" });
    assert.equal((await f.counts("drop")).queued, 1);
    await f.drop("drop", { crawl: "new" });
    assert.deepEqual(await f.counts("drop"), {
      queued: 0,
      leased: 0,
      done: 0,
      failed: 0,
      scheduled: 0,
      due: 0,
    });
    assert.deepEqual(await claimAll(f, "drop"), []);
    await assert.rejects(f.add("drop", [req("http://x.test/")]), /no crawl/);
    const again = await f.begin("drop", { roots: [req("http://x.test/")] });
    assert.deepEqual([again.mode, again.mode === "new" && again.reason], ["new", "first"]);
  });

  await t.step("finished holds only when every claimer's work is acked", async () => {
    // A tree: page n links to 2n+1 and 2n+2, up to 200 pages; three claimers crawl it.
    const page = (n: number) => req(`http://t.test/${n}`, { depth: n });
    await f.begin("tree", { roots: [page(0)] });
    const claimers = [f, await backend.client(), await backend.client()];
    const seen = new Set<string>();
    let finishedEarly = false;
    await Promise.all(claimers.map(async (client, i) => {
      for (;;) {
        const claims = await waitFor(async () => {
          const claims = await client.claim("tree", { owner: `w${i}`, limit: 3, leaseMs: 60_000 });
          return claims.length > 0 ? claims : await client.finished("tree") && "finished";
        }, { what: `claimer ${i} to get work or see the crawl finished`, intervalMs: 5 });
        if (claims === "finished") return;
        for (const c of claims) {
          assert.ok(!seen.has(c.request.url), `${c.request.url} claimed twice`);
          seen.add(c.request.url);
        }
        // While this claimer holds claims, nobody may see the task finished.
        if (await claimers[(i + 1) % 3].finished("tree")) finishedEarly = true;
        await client.complete(claims.map((c) => {
          const n = Number(new URL(c.request.url).pathname.slice(1));
          return done(c, [2 * n + 1, 2 * n + 2].filter((m) => m < 200).map(page));
        }));
      }
    }));
    assert.equal(finishedEarly, false);
    assert.equal(seen.size, 200);
    assert.deepEqual(await f.counts("tree"), {
      queued: 0,
      leased: 0,
      done: 200,
      failed: 0,
      scheduled: 0,
      due: 0,
    });
  });
}

/**
 * Two processes (tests/_frontier_claimer.ts) claim 3,000 requests from `backend` at once: no URL
 * is handed to both, and every one is done.
 */
export async function claimedOnceByProcesses(backend: Backend & { url: string }): Promise<void> {
  const f = await backend.client();
  const total = 3000;
  await f.begin("race", { roots: [] });
  await f.add("race", Array.from({ length: total }, (_, i) => req(`http://p.test/${i}`)));
  const script = new URL("../_frontier_claimer.ts", import.meta.url).pathname;
  const claimers = ["p1", "p2"].map((owner) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", script, backend.url, "race", owner],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn()
  );
  // Each prints "ready" with its frontier open; both start on one "go".
  const outputs = claimers.map((child) => readAll(child.stdout));
  for (const output of outputs) await output.line("ready");
  const writers = claimers.map((child) => child.stdin.getWriter());
  await Promise.all(writers.map((w) => w.write(new TextEncoder().encode("go\n"))));
  await Promise.all(writers.map((w) => w.close()));
  const claimed = await Promise.all(claimers.map(async (child, i) => {
    assert.equal((await child.status).code, 0);
    const lines = (await outputs[i].rest()).trim().split("\n");
    return JSON.parse(lines[lines.length - 1]) as string[];
  }));
  const all = claimed.flat();
  assert.equal(new Set(all).size, all.length, "a URL was handed to two processes");
  assert.equal(all.length, total);
  assert.ok(claimed.every((c) => c.length > 0), "both processes claimed");
  assert.deepEqual(await f.counts("race"), {
    queued: 0,
    leased: 0,
    done: total,
    failed: 0,
    scheduled: 0,
    due: 0,
  });
}

/** Reads a child's stdout: wait for a given line, then the rest once it closes. */
function readAll(stream: ReadableStream<Uint8Array>) {
  const decoder = new TextDecoder();
  const reader = stream.getReader();
  let text = "";
  let done = false;
  const more = async () => {
    const { value, done: end } = await reader.read();
    if (end) done = true;
    else text += decoder.decode(value, { stream: true });
  };
  return {
    async line(expected: string): Promise<void> {
      while (!text.includes(`${expected}\n`)) {
        if (done) throw new Error(`claimer exited before printing "${expected}": ${text}`);
        await more();
      }
    },
    async rest(): Promise<string> {
      while (!done) await more();
      return text.slice(text.indexOf("ready\n") + "ready\n".length);
    },
  };
}
