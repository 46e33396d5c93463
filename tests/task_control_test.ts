/**
 * @module
 * Task control on a real cluster: two `crawler master` and two `crawler worker` processes on a
 * real etcd crawling a local fixture site. A task paused through a follower stays paused while
 * the worker holding it is killed with SIGKILL (the task moves, still paused) and while the
 * leader is killed (another master leads); resumed, it crawls again. The masters' view of the
 * task (`GET /crawler/resource/<name>`) is gathered from the worker processes over gRPC.
 */
import assert from "node:assert/strict";
import { startDoubanFixture } from "./douban_fixture.ts";
import { Cluster, type CrawlerProcess, holdsFor, waitFor } from "./kit/mod.ts";

const TTL_SECONDS = 2;

Deno.test("a paused task stays paused across a worker kill -9 and a leader change, then resumes", async (t) => {
  // Slow enough to outlast the test: ~1,000 pages at 10 pages/s.
  const site = startDoubanFixture({ tags: 20, booksPerTag: 50, failOnceEvery: 0 });
  // With an API token: the follower forwards the caller's token with the pause, and the masters
  // send theirs when they ask the workers for their status. One frontier file for all: the
  // worker a task moves to goes on with its crawl.
  await using cluster = await Cluster.start({
    masters: 2,
    workers: 2,
    ttlSeconds: TTL_SECONDS,
    token: "task-control-token",
    config: ({ dir }) => ({
      storage: { sqlURL: `sqlite:${dir}/items.db` },
      frontier: { url: `sqlite:${dir}/frontier.db` },
    }),
  });
  const masters = [...cluster.masters.values()];
  const workers = [...cluster.workers.values()];
  const spec = {
    rule: "douban_book_list",
    url: `${site.url}/`,
    waitTime: 0,
    limits: [{ eventCount: 10, eventDur: 1, bucket: 2 }],
  };
  const booksRequests = () => site.log.length;
  try {
    const leader = await cluster.leader();
    const follower = masters.find((m) => m !== leader)!;
    const view = async (master: CrawlerProcess) => {
      const answer = await master.request("/crawler/resource/books");
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      return answer.body as {
        state: string;
        paused: boolean;
        totals: { fetched: number };
        resource: { AssignedNode: string; Paused?: boolean };
        placements: Array<{ workerId: string; state: string }>;
      };
    };
    const tasksOf = async (worker: CrawlerProcess) => {
      const { body } = await worker.request("/tasks");
      return body.tasks as Array<{ name: string; state: string }>;
    };
    let holder: CrawlerProcess;

    await cluster.step(
      t,
      "a task added through a follower runs; any master reports its progress",
      async () => {
        // The registry lists both workers: the leader must place the add, even if its watch has
        // not told it of them yet (issue 18). Any other 503 leaves the outcome unknown: it is
        // retried with the same Idempotency-Key, as docs/http-api.md tells clients to.
        let added = { status: 0, body: {} as Record<string, unknown> };
        await waitFor(async () => {
          added = await follower.request("/crawler/resource", {
            method: "POST",
            json: { name: "books", spec },
            headers: { "Idempotency-Key": "task-control-books" },
          });
          assert.doesNotMatch(String(added.body.error), /no worker/, "the registry lists two");
          return added.status !== 503;
        }, { what: "the add to be answered", timeoutMs: 10_000 });
        assert.equal(added.status, 200, JSON.stringify(added.body));
        holder = workers.find((w) => w.id === added.body.id)!;
        await waitFor(async () => {
          const v = await view(follower);
          return v.state === "running" && v.totals.fetched > 0;
        }, { what: "the follower's view to show pages fetched", timeoutMs: 20_000 });
        const v = await view(follower);
        assert.deepEqual(v.placements.map((p) => p.workerId), [holder.id]);
      },
    );

    await cluster.step(t, "paused through the follower, the worker stops fetching", async () => {
      const paused = await follower.request("/crawler/resource/books/pause", { method: "POST" });
      assert.equal(paused.status, 200, JSON.stringify(paused.body));
      assert.equal((paused.body.resource as { Paused: boolean }).Paused, true);
      await waitFor(async () => {
        const tasks = await tasksOf(holder);
        return tasks.some((task) => task.name === "books" && task.state === "paused");
      }, { what: "the worker to show the task paused", timeoutMs: 10_000 });
      const before = booksRequests();
      // Paused: nothing is fetched for 700 ms, 7 pages at the task's rate.
      await holdsFor(() => booksRequests() === before, {
        what: "no page fetched while paused",
        forMs: 700,
      });
      await waitFor(async () => (await view(leader)).state === "paused", {
        what: "the leader's view to show it paused",
        timeoutMs: 10_000,
      });
      assert.equal((await view(leader)).paused, true);
    });

    await cluster.step(
      t,
      "the worker holding it is killed: the task moves and stays paused",
      async () => {
        await cluster.signal(holder, "SIGKILL");
        const other = workers.find((w) => w !== holder)!;
        await waitFor(async () => {
          const v = await view(leader);
          return v.resource.AssignedNode.startsWith(`${other.id}|`);
        }, { what: "the task to move to the other worker", timeoutMs: 20_000 });
        await waitFor(async () => {
          const tasks = await tasksOf(other);
          return tasks.some((task) => task.name === "books" && task.state === "paused");
        }, { what: "the other worker to hold it paused", timeoutMs: 10_000 });
        const before = booksRequests();
        // Still paused: nothing is fetched for 700 ms, 7 pages at the task's rate.
        await holdsFor(() => booksRequests() === before, {
          what: "the new worker not crawling a paused task",
          forMs: 700,
        });
        assert.equal((await view(leader)).resource.Paused, true);
        holder = other;
      },
    );

    await cluster.step(
      t,
      "the leader is killed: the new leader keeps it paused and resumes it",
      async () => {
        await cluster.signal(leader, "SIGKILL");
        const next = await cluster.leader();
        assert.equal(next, follower);
        const v = await view(next);
        assert.equal(v.paused, true);
        assert.equal(v.state, "paused");
        const before = booksRequests();
        const resumed = await next.request("/crawler/resource/books/resume", { method: "POST" });
        assert.equal(resumed.status, 200, JSON.stringify(resumed.body));
        assert.equal((resumed.body.resource as { Paused?: boolean }).Paused, undefined);
        await waitFor(async () => {
          const v = await view(next);
          return v.state === "running" && v.totals.fetched > 0 && booksRequests() > before;
        }, { what: "the task to crawl again", timeoutMs: 20_000 });
        const tasks = await tasksOf(holder);
        assert.equal(tasks.find((task) => task.name === "books")?.state, "running");
      },
    );

    await cluster.step(t, "a worker that stops leaves the view; the master serves on", async () => {
      await cluster.signal(holder, "SIGTERM");
      const status = await holder.stop();
      assert.equal(status.code, 0);
      const stoppedAt = Date.now();
      const master = masters.find((m) => m !== leader)!;
      const clusterView = async () => (await master.request("/crawler/cluster")).body;
      await waitFor(async () => {
        return ((await clusterView()).workers as unknown[]).length === 0;
      }, { what: "the view to drop the stopped workers", timeoutMs: 15_000 });
      // Two more rounds of polling after the worker's channel was dropped: still serving.
      await waitFor(async () => {
        return ((await clusterView()).polledAt as number) > stoppedAt + 4000;
      }, { what: "two more polls", timeoutMs: 15_000 });
      assert.notEqual((await view(master)).state, "running");
    });
  } catch (error) {
    cluster.dumpLogs();
    throw error;
  } finally {
    await site.close();
  }
});
