/**
 * Recrawls on a real cluster (docs/frontier.md, "Recrawl"; issue 21): a real etcd, a `crawler
 * master` and two `crawler worker` processes sharing a Postgres frontier, over the recrawl
 * fixture (every page sends `ETag` and `Last-Modified` and answers a matching conditional GET
 * with 304), each task with `"recrawl": {"interval": "2s", "adaptive": false}`.
 *
 * 1. A task paused across its pages' due time fetches nothing while paused (every page falls due
 *    meanwhile, as the frontier says), and once resumed fetches every page again, conditionally
 *    (304).
 * 2. One task on both workers (`"workers": 2`): over three passes every URL's consecutive fetches
 *    reach the site at least an interval apart (a page is due an interval after its fetch was
 *    acknowledged, so a shorter gap is a double fetch), every revisit is a 304, and both workers
 *    revisit pages.
 * 3. Between passes the master's view of a task on both workers (`GET /crawler/resource/<name>`)
 *    is `waiting`, with every page scheduled, none due, its next due time, and its revisits
 *    counted as 304s.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { STATE_CODES } from "../frontier/frontier.ts";
import type { TaskView } from "../master/cluster_view.ts";
import type { AssignmentStatus } from "../worker/cluster_worker.ts";
import { Cluster, type CrawlerProcess, holdsFor, placedOn, waitFor } from "./kit/mod.ts";
import { type RecrawlFixture, startRecrawlFixture } from "./recrawl_fixture.ts";

const INTERVAL_MS = 2000;
/** 4 lists of 25 articles: 105 pages, a pass well under a second. */
const SITE = { lists: 4, perList: 25 };

/** A declarative spec over the fixture at `siteUrl`, revisiting every page every 2 s. */
function recrawlSpec(siteUrl: string, workers = 1) {
  return {
    url: `${siteUrl}/`,
    maxDepth: 5,
    recrawl: { interval: `${INTERVAL_MS / 1000}s`, adaptive: false },
    ...(workers > 1 ? { workers } : {}),
    rules: {
      home: { links: [{ selector: "a", rule: "list" }] },
      list: { links: [{ selector: "a", rule: "article" }] },
      article: { output: { each: "li.item", fields: { text: {} } } },
    },
  };
}

/** Every page of the site (of `lists` lists): the home page, the lists and the articles. */
function pagePaths(site: RecrawlFixture, lists = SITE.lists): string[] {
  const paths = ["/", ...Array.from({ length: lists }, (_, l) => `/l/${l}`), ...site.articles];
  assert.equal(paths.length, site.pages);
  return paths;
}

Deno.test("recrawl on a cluster: pause across due time, each URL once per interval on two workers, waiting between passes", async (t) => {
  const sites: RecrawlFixture[] = [];
  await using cluster = await Cluster.start({ masters: 1, workers: 2, postgres: true });
  const frontierDb = postgres(cluster.postgres!.url, { max: 1, onnotice: () => {} });
  const workers = [...cluster.workers.values()];

  /** Adds a resource, retrying a 503 (unknown outcome) with the same Idempotency-Key. */
  const add = async (name: string, spec: unknown) => {
    const added = await waitFor(
      () =>
        cluster.request("/crawler/resource", {
          method: "POST",
          json: { name, spec },
          headers: { "Idempotency-Key": `recrawl-cluster-${name}` },
        }),
      { what: `the add of ${name} to be answered`, timeoutMs: 10_000 },
    );
    assert.equal(added.status, 200, JSON.stringify(added.body));
    return added.body as { id: string };
  };
  /** The master's view of a task: `GET /crawler/resource/<name>`. */
  const view = async (name: string) => {
    const answer = await cluster.request(`/crawler/resource/${name}`);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return answer.body as unknown as TaskView;
  };
  /** What `worker` says of the task on `GET /tasks`. */
  const taskOn = async (worker: CrawlerProcess, name: string) => {
    const { body } = await worker.request("/tasks");
    return (body.tasks as AssignmentStatus[]).find((task) => task.name === name);
  };
  /** The task's requests the frontier holds for a revisit, and of those the ones due now. */
  const schedule = async (name: string) => {
    const [row] = await frontierDb.unsafe(
      `SELECT count(*) FILTER (WHERE fetched_at IS NOT NULL)::int AS scheduled,
              count(*) FILTER (WHERE fetched_at IS NOT NULL
                AND due_at <= (extract(epoch from clock_timestamp()) * 1000)::bigint)::int AS due
         FROM frontier_urls
        WHERE crawl = (SELECT id FROM frontier_tasks WHERE task = $1) AND state = $2`,
      [name, STATE_CODES.queued],
    );
    return { scheduled: Number(row.scheduled), due: Number(row.due) };
  };
  /** A step of the scene; the test stops at the first failed step. */
  const step = async (name: string, fn: () => Promise<void>) => {
    if (!await cluster.step(t, name, fn)) throw new Error(`step failed: ${name}`);
  };

  try {
    await step(
      "a task paused across its due time fetches nothing, then every page after resume",
      async () => {
        const site = startRecrawlFixture(SITE);
        sites.push(site);
        const pages = pagePaths(site);
        const name = "paused-fresh";
        const { id } = await add(name, recrawlSpec(site.url));
        const holder = workers.find((w) => w.id === id)!;
        assert.ok(holder, `placed on ${id}, one of ${workers.map((w) => w.id)}`);

        // The first pass: every page fetched, and acknowledged (scheduled for its revisit).
        await waitFor(async () => {
          const task = await taskOn(holder, name);
          return pages.every((p) => site.hitsOf(p).length > 0) &&
            task?.stats?.frontier.scheduled === site.pages;
        }, { what: "the first pass fetched and scheduled", timeoutMs: 20_000 });

        const paused = await cluster.request(`/crawler/resource/${name}/pause`, { method: "POST" });
        assert.equal(paused.status, 200, JSON.stringify(paused.body));
        assert.equal((paused.body.resource as { Paused?: boolean }).Paused, true);
        await waitFor(async () => (await taskOn(holder, name))?.state === "paused", {
          what: "the worker to show the task paused",
          timeoutMs: 10_000,
        });
        const pausedAt = Date.now();
        const before = site.hits.length;
        // Every page was acknowledged before the run stopped, so each is due by pausedAt + one
        // interval: an interval and a second without a request spans every page's due time.
        await holdsFor(() => site.hits.length === before, {
          what: "no page fetched while paused",
          forMs: INTERVAL_MS + 1000,
        });
        // The pages did fall due meanwhile: the frontier says so.
        assert.deepEqual(await schedule(name), { scheduled: site.pages, due: site.pages });
        assert.equal(site.hits.length, before, "no page fetched while paused");
        assert.equal((await view(name)).state, "paused");

        const resumedAt = Date.now();
        const resumed = await cluster.request(`/crawler/resource/${name}/resume`, {
          method: "POST",
        });
        assert.equal(resumed.status, 200, JSON.stringify(resumed.body));
        await waitFor(() => pages.every((p) => site.hitsOf(p).some((h) => h.at > resumedAt)), {
          what: "every page fetched again after the resume",
          timeoutMs: 15_000,
        });
        const after = pages.map((p) => site.hitsOf(p).find((h) => h.at > resumedAt)!);
        const tookMs = Math.max(...after.map((h) => h.at)) - resumedAt;
        const notConditional = after.filter((h) => !h.conditional).map((h) => h.path);
        assert.deepEqual(notConditional, [], "every revisit after the resume is a conditional GET");
        const not304 = after.filter((h) => h.status !== 304).map((h) => `${h.path} ${h.status}`);
        assert.deepEqual(not304, [], "every revisit after the resume is answered 304");
        console.log(
          `pause: ${before} requests before, none in ${resumedAt - pausedAt} ms paused; ` +
            `all ${site.pages} pages revisited (304) within ${tookMs} ms of the resume`,
        );

        const deleted = await cluster.request("/crawler/resource", {
          method: "DELETE",
          json: { name },
        });
        assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
      },
    );

    await step(
      "two workers on one Postgres frontier fetch each URL once per interval",
      async () => {
        const site = startRecrawlFixture(SITE);
        sites.push(site);
        const pages = pagePaths(site);
        const name = "shared-fresh";
        const startedAt = Date.now();
        await add(name, recrawlSpec(site.url, 2));
        const resource = (await cluster.resources()).find((r) => r.Name === name)!;
        assert.deepEqual(placedOn(resource).sort(), workers.map((w) => w.id).sort());

        await waitFor(() => site.articles.every((p) => site.hitsOf(p).length >= 3), {
          what: "three passes: every article fetched three times",
          timeoutMs: 30_000,
        });
        const passesMs = Date.now() - startedAt;

        // Each URL once per interval: consecutive fetches at least the interval apart.
        const tooClose: string[] = [];
        let minGap = Infinity;
        for (const path of pages) {
          const hits = site.hitsOf(path);
          assert.ok(hits.length >= 2, `${path} fetched ${hits.length}×`);
          for (let i = 1; i < hits.length; i++) {
            const gap = hits[i].at - hits[i - 1].at;
            minGap = Math.min(minGap, gap);
            if (gap < INTERVAL_MS) tooClose.push(`${path} #${i + 1} ${gap} ms after #${i}`);
          }
        }
        assert.deepEqual(tooClose, [], "URLs fetched twice within an interval");
        const revisits = pages.flatMap((p) => site.hitsOf(p).slice(1));
        assert.deepEqual(
          revisits.filter((h) => !h.conditional || h.status !== 304).map((h) =>
            `${h.path} ${h.status}`
          ),
          [],
          "every revisit is a conditional GET answered 304",
        );

        // Both workers took part in the revisits.
        const byWorker = new Map<string, { fetched: number; revisits: number }>();
        for (const worker of workers) {
          const stats = (await taskOn(worker, name))?.stats;
          byWorker.set(worker.id, {
            fetched: stats?.fetched ?? 0,
            revisits: stats?.recrawl?.revisits ?? 0,
          });
        }
        for (const [id, { revisits }] of byWorker) {
          assert.ok(revisits > 0, `${id} revisited nothing`);
        }

        console.log(
          `two workers: ${revisits.length + pages.length} requests for ${site.pages} pages in ` +
            `${passesMs} ms (three passes); min gap between fetches of a URL ${minGap} ms ` +
            `(interval ${INTERVAL_MS}); per worker ${JSON.stringify(Object.fromEntries(byWorker))}`,
        );
        const deleted = await cluster.request("/crawler/resource", {
          method: "DELETE",
          json: { name },
        });
        assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
      },
    );

    await step(
      "between passes the master shows the task waiting, its pages scheduled, its revisits 304s",
      async () => {
        // A site of 13 pages: a pass takes a fraction of the interval, so the task spends most of
        // it waiting even on a busy machine (the master asks its workers every 2 s, each worker
        // counts its frontier every second, and "waiting" needs both workers idle at once).
        const site = startRecrawlFixture({ lists: 2, perList: 5 });
        sites.push(site);
        const pages = pagePaths(site, 2);
        const name = "waiting-fresh";
        const startedAt = Date.now();
        await add(name, recrawlSpec(site.url, 2));
        const seen = await waitFor(async () => {
          const v = await view(name);
          return v.state === "waiting" && (v.totals.recrawl?.revisits ?? 0) >= site.pages &&
            { view: v, at: Date.now() };
        }, {
          what: "the master to show the task waiting after a pass of revisits",
          timeoutMs: 30_000,
          intervalMs: 100,
        });
        const recrawl = seen.view.totals.recrawl!;
        const served = pages.flatMap((p) => site.hitsOf(p).slice(1));
        const message = `${JSON.stringify(recrawl)}; site: ${served.length} revisits served`;
        assert.deepEqual(seen.view.placements.map((p) => p.state), ["waiting", "waiting"]);
        assert.equal(recrawl.scheduled, site.pages, message);
        assert.equal(recrawl.due, 0, message);
        assert.ok(recrawl.revisits <= served.length, message);
        assert.equal(recrawl.notModified, recrawl.revisits, message);
        assert.equal(recrawl.unchanged, 0, message);
        assert.equal(recrawl.changed, 0, message);
        // Due within an interval of when the workers last counted (before the view was read),
        // and after the first pass.
        assert.ok(
          recrawl.nextDueAt !== undefined && recrawl.nextDueAt <= seen.at + INTERVAL_MS &&
            recrawl.nextDueAt > startedAt + INTERVAL_MS,
          message,
        );
        console.log(
          `waiting: seen ${seen.at - startedAt} ms after the add, next due ${
            recrawl.nextDueAt! - seen.at
          } ms after the view was read: ${message}`,
        );
      },
    );
  } catch (error) {
    cluster.dumpLogs();
    throw error;
  } finally {
    await frontierDb.end();
    for (const site of sites) await site.close();
  }
});
