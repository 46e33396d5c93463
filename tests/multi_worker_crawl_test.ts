/**
 * One crawl task on several worker processes (issue 9), end to end: a real etcd, a real Postgres
 * holding both the frontier and the results, a real `crawler master` and real `crawler worker`
 * processes. Each worker fetches through its own recording proxy port, so every request to the
 * fixture site is attributed to the worker that made it.
 *
 * 1. `spec.workers: 2`: both workers fetch (each ≥ 30 % of the pages), no URL is fetched twice,
 *    every item is stored once in the Postgres results table.
 * 2. kill -9 one of the two (a third worker is free): the crawl still finishes, only URLs leased
 *    by the dead worker at the kill are fetched twice, every item stored once, and the
 *    replacement placement lands on the free worker.
 * 3. delete a running task: no request reaches the site later than 1 s after the delete was
 *    answered, and the task's frontier rows are gone.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { parseAssignedNode } from "../proto/assigned_node.ts";
import { placementsOf, type ResourceSpec } from "../proto/resource_spec.ts";
import { type DoubanFixture, startDoubanFixture } from "./douban_fixture.ts";
import { Cluster, waitFor } from "./kit/mod.ts";
import { STATE_CODES } from "../frontier/frontier.ts";

const TTL_SECONDS = 2;
/**
 * Frontier leases: a dead worker's requests go back to the queue this long after its last
 * renewal; long enough that the test reads them (just after the kill) before they do.
 */
const LEASE_SECONDS = 4;
const { leased: LEASED, done: DONE } = STATE_CODES;

/** One request that went through a worker's proxy port. */
interface ProxiedRequest {
  worker: string;
  url: string;
  at: number;
}

/**
 * An HTTP proxy port per worker that records each request with the worker's id and forwards it
 * to its target: which worker fetched what, whatever site a test starts.
 */
class RecordingProxies {
  readonly requests: ProxiedRequest[] = [];
  readonly #servers: Deno.HttpServer[] = [];

  /** Opens a proxy port for `worker`; returns its URL for the worker's `fetcher.proxy`. */
  open(worker: string): string {
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      // A proxied request names its absolute target.
      const target = new URL(req.url);
      this.requests.push({ worker, url: target.href, at: Date.now() });
      const response = await fetch(target, { headers: { accept: "text/html" } });
      return new Response(response.body, { status: response.status, headers: response.headers });
    });
    this.#servers.push(server);
    return `http://127.0.0.1:${server.addr.port}`;
  }

  /** The requests made to `site`. */
  to(site: DoubanFixture): ProxiedRequest[] {
    return this.requests.filter((r) => r.url.startsWith(`${site.url}/`));
  }

  async close(): Promise<void> {
    await Promise.all(this.#servers.map((server) => server.shutdown()));
  }
}

/** The worker id of each placement of `resource`. */
function placedOn(resource: ResourceSpec): string[] {
  return placementsOf(resource).map((p) => parseAssignedNode(p)?.workerId ?? "");
}

/** Requests per worker id. */
function perWorker(requests: readonly ProxiedRequest[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of requests) counts.set(r.worker, (counts.get(r.worker) ?? 0) + 1);
  return counts;
}

/** The URLs requested more than once. */
function fetchedTwice(site: DoubanFixture): string[] {
  return [...site.requests].filter(([, count]) => count > 1).map(([path]) => `${site.url}${path}`);
}

Deno.test("one task on several workers: shared Postgres frontier, failover, delete", async (t) => {
  // Postgres holds the frontier every process shares, and (in a database of its own) the
  // results: started first, the processes once it is there.
  await using cluster = await Cluster.start({
    masters: 0,
    postgres: true,
    ttlSeconds: TTL_SECONDS,
    config: {
      fetcher: { concurrency: 2, retries: 0, timeout: 5000 },
      frontier: { leaseTime: LEASE_SECONDS },
    },
  });
  const pg = cluster.postgres!;
  const resultsUrl = await pg.createDatabase("results");
  const proxies = new RecordingProxies();
  const frontierDb = postgres(pg.url, { max: 1, onnotice: () => {} });
  const resultsDb = postgres(resultsUrl, { max: 1, onnotice: () => {} });
  const sites: DoubanFixture[] = [];
  const startWorker = (n: number) =>
    cluster.startWorker(n, {
      fetcher: { proxy: [proxies.open(`crawler.worker-${n}`)] },
      storage: { sqlURL: resultsUrl },
    });
  const master = await cluster.startMaster(1, { storage: { sqlURL: resultsUrl } });
  const registered = async (count: number) => {
    await waitFor(async () => {
      const answer = await master.request("/crawler/workers");
      return (answer.body.workers as unknown[]).length === count;
    }, { what: `${count} registered workers`, timeoutMs: 30_000 });
  };
  const resource = async (name: string) => {
    const resources = (await master.request("/crawler/resource")).body.resources as ResourceSpec[];
    return resources.find((r) => r.Name === name);
  };
  const add = async (name: string, site: DoubanFixture) => {
    const answer = await master.request("/crawler/resource", {
      method: "POST",
      json: {
        id: `${name}-1`,
        name,
        spec: {
          rule: "douban_book_list",
          url: `${site.url}/`,
          waitTime: 0,
          reload: false, // the rule set reloads by default (as in Go); here each URL once
          limits: [],
          workers: 2,
        },
      },
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const placed = placedOn((await resource(name))!);
    assert.equal(placed.length, 2, `two placements: ${placed}`);
    return placed;
  };
  /** The task's frontier requests by state number (`STATE_CODES`). */
  const frontierStates = async (task: string) => {
    const rows = await frontierDb.unsafe(
      `SELECT state, count(*)::int AS n FROM frontier_urls
       WHERE crawl = (SELECT id FROM frontier_tasks WHERE task = $1) GROUP BY state`,
      [task],
    );
    return new Map(rows.map((row) => [Number(row.state), Number(row.n)]));
  };
  let lastStates = "";
  const finished = async (task: string, pages: number) => {
    const states = await frontierStates(task);
    lastStates = `${task}: ${JSON.stringify(Object.fromEntries(states))} of ${pages}`;
    return states.get(DONE) === pages && states.size === 1;
  };
  /** Every stored item of `task` is one of `site`'s books, each exactly once. */
  const assertStoredOnce = async (task: string, site: DoubanFixture) => {
    type Row = { url: string; title: string; author: string; intro: string; n: number };
    let rows: Row[] = [];
    await waitFor(async () => {
      rows = (await resultsDb.unsafe(
        `SELECT url, max("书名") AS title, max("作者") AS author, max("简介") AS intro,
                count(*)::int AS n
           FROM "${task}" GROUP BY url`,
      )) as unknown as Row[];
      return rows.length >= site.books.length;
    }, { what: `${site.books.length} rows in "${task}"`, timeoutMs: 10_000 });
    const expected = new Map(site.books.map((b) => [`${site.url}/subject/${b.id}/`, b]));
    assert.equal(rows.length, expected.size);
    for (const row of rows) {
      assert.equal(row.n, 1, `${row.url} stored ${row.n}×`);
      const book = expected.get(row.url);
      assert.ok(book, `${row.url} is not a book of the site`);
      assert.deepEqual(
        [row.title, row.author, row.intro],
        [book.书名, book.作者, book.简介],
        row.url,
      );
    }
  };

  /** A step of the scene; the test stops at the first failed step (the rest builds on it). */
  const step = async (name: string, fn: () => Promise<void>) => {
    if (!await cluster.step(t, name, fn)) throw new Error(`step failed: ${name}`);
  };

  try {
    await cluster.leader();
    const workers = [await startWorker(1), await startWorker(2)];
    await registered(2);

    await step("workers: 2 — both fetch, each URL once, each item stored once", async () => {
      const site = startDoubanFixture({
        tags: 10,
        booksPerTag: 40,
        latencyMs: 40,
        failOnceEvery: 0,
      });
      sites.push(site);
      const startedAt = Date.now();
      const placed = await add("pair", site);
      assert.deepEqual(placed.sort(), workers.map((w) => w.id).sort());
      await waitFor(() => finished("pair", site.pages), {
        what: "the shared crawl to finish",
        timeoutMs: 30_000,
      });
      const tookMs = Date.now() - startedAt;

      assert.deepEqual(fetchedTwice(site), [], "no URL fetched twice");
      assert.equal(site.requests.size, site.pages, "every page fetched");
      const shares = perWorker(proxies.to(site));
      for (const id of placed) {
        const share = (shares.get(id) ?? 0) / site.pages;
        assert.ok(share >= 0.3, `${id} fetched ${(share * 100).toFixed(0)} % of the pages`);
      }
      await assertStoredOnce("pair", site);
      console.log(
        `workers: 2 — ${site.pages} pages in ${tookMs} ms; share per worker: ${
          placed.map((id) => `${id} ${((shares.get(id)! / site.pages) * 100).toFixed(0)} %`)
            .join(", ")
        }`,
      );
    });

    workers.push(await startWorker(3));
    await registered(3);

    await step("kill -9 one of two: the crawl finishes, the free worker takes over", async () => {
      const site = startDoubanFixture({
        tags: 12,
        booksPerTag: 50,
        latencyMs: 40,
        failOnceEvery: 0,
      });
      sites.push(site);
      const placed = await add("failover", site);
      const byId = (id: string) => workers.find((w) => w.id === id)!;
      const free = workers.find((w) => !placed.includes(w.id))!;
      const victim = byId(placed[1]);
      await waitFor(() => {
        const counts = perWorker(proxies.to(site));
        return placed.every((id) => (counts.get(id) ?? 0) >= 20);
      }, { what: "both placements fetching", timeoutMs: 15_000 });

      const killedAt = Date.now();
      await cluster.signal(victim, "SIGKILL");
      // The dead worker's leases stay in the frontier until another claimer takes them back.
      const leased = await frontierDb.unsafe(
        // A row keeps its URL less its host's origin (frontier/_url_parts.ts).
        `SELECT CASE WHEN left(u.url, 1) = '/' THEN (CASE WHEN h.origin = '' THEN h.host ELSE h.origin END) || u.url ELSE u.url END AS url
         FROM frontier_urls u JOIN frontier_hosts h ON h.id = u.host
         WHERE u.crawl = (SELECT id FROM frontier_tasks WHERE task = $1)
           AND u.state = $2 AND u.owner = $3`,
        ["failover", LEASED, victim.id],
      );
      const leasedAtKill = new Set(leased.map((row) => String(row.url)));

      // The leader moves a vanished worker's placements once its registration has expired
      // (RegisterTTL) and its grace (MasterServer.WorkerGrace, capped at RegisterTTL) is over.
      const replaceWithinMs = 2 * TTL_SECONDS * 1000 + 2000;
      await waitFor(async () => {
        const now = placedOn((await resource("failover"))!);
        return now.includes(free.id) && now.includes(placed[0]) && !now.includes(victim.id);
      }, { what: "the replacement placement on the free worker", timeoutMs: replaceWithinMs });
      const replacedMs = Date.now() - killedAt;
      await waitFor(() => {
        return proxies.to(site).some((r) => r.worker === free.id);
      }, { what: "the free worker to fetch", timeoutMs: 15_000 });
      const failoverMs = proxies.to(site).find((r) => r.worker === free.id)!.at - killedAt;
      await waitFor(() => finished("failover", site.pages), {
        what: "the crawl to finish",
        timeoutMs: 45_000,
      });

      assert.equal(site.requests.size, site.pages, "every page fetched");
      const twice = fetchedTwice(site);
      for (const url of twice) assert.ok(leasedAtKill.has(url), `${url} fetched twice, not leased`);
      await assertStoredOnce("failover", site);
      const shares = perWorker(proxies.to(site));
      console.log(
        `kill -9: replacement placed ${replacedMs} ms and fetching ${failoverMs} ms after the ` +
          `kill (RegisterTTL ${TTL_SECONDS} s); ${leasedAtKill.size} ` +
          `leased at the kill, ${twice.length} fetched twice; requests per worker: ${
            JSON.stringify(Object.fromEntries(shares))
          }`,
      );
    });

    await step("delete: every placement stops within 1 s, frontier rows removed", async () => {
      const site = startDoubanFixture({
        tags: 20,
        booksPerTag: 100,
        latencyMs: 40,
        failOnceEvery: 0,
      });
      sites.push(site);
      const placed = await add("gone", site);
      const live = workers.filter((w) => placed.includes(w.id));
      const running = async () => {
        return await Promise.all(live.map(async (w) => {
          const tasks = (await w.request("/tasks")).body.tasks as Array<
            { name: string; state: string }
          >;
          return tasks.some((task) => task.name === "gone" && task.state === "running");
        }));
      };
      await waitFor(async () => {
        const counts = perWorker(proxies.to(site));
        return placed.every((id) => (counts.get(id) ?? 0) >= 10) &&
          (await running()).every((r) => r);
      }, { what: "both placements running and fetching", timeoutMs: 15_000 });
      const deleted = await master.request("/crawler/resource", {
        method: "DELETE",
        json: { name: "gone" },
      });
      const answeredAt = Date.now();
      assert.equal(deleted.status, 200, JSON.stringify(deleted.body));

      await waitFor(async () => {
        return (await running()).every((r) => !r);
      }, { what: "no placement running it", timeoutMs: 5000 });
      await waitFor(async () => {
        const [row] = await frontierDb.unsafe(
          `SELECT (SELECT count(*) FROM frontier_tasks WHERE task = $1)::int
                + (SELECT count(*) FROM frontier_urls u
                   WHERE NOT EXISTS (SELECT 1 FROM frontier_tasks t WHERE t.id = u.crawl))::int
                AS n`,
          ["gone"],
        );
        return Number(row.n) === 0;
      }, { what: "the task's frontier rows removed", timeoutMs: 5000 });
      const last = Math.max(...proxies.to(site).map((r) => r.at));
      assert.ok(
        last <= answeredAt + 1000,
        `a request reached the site ${last - answeredAt} ms after the delete was answered`,
      );
      console.log(`delete: last request ${last - answeredAt} ms after the delete was answered`);
    });
  } catch (error) {
    console.error(`frontier (last seen): ${lastStates}`);
    cluster.dumpLogs();
    throw error;
  } finally {
    await frontierDb.end();
    await resultsDb.end();
    await proxies.close();
    for (const site of sites) await site.close();
  }
});
