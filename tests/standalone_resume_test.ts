/**
 * Standalone resume through the real CLI: a crawl killed with SIGKILL mid-way and run again with
 * the same command continues where it was, and ends with the same rows as a crawl never
 * interrupted; `--fresh` and a finished crawl start over.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { STATE_CODES } from "../frontier/frontier.ts";
import { startDoubanFixture } from "./douban_fixture.ts";
import { runCrawler, spawnCrawler, waitFor, writeConfig } from "./kit/mod.ts";

const SITE = { tags: 5, booksPerTag: 30, failOnceEvery: 0 };

/** One task crawling the site at `siteUrl`, over a frontier and a results file in `dir`. */
function standaloneConfig(dir: string, siteUrl: string): Promise<string> {
  return writeConfig(`${dir}/config.toml`, {
    logLevel: "warn",
    Tasks: [{
      Name: "books",
      Rule: "douban_book_list",
      URL: `${siteUrl}/`,
      Reload: false,
      WaitTime: 0,
      Limits: [],
    }],
    fetcher: { timeout: 5000, concurrency: 4 },
    frontier: { url: `sqlite:${dir}/frontier.db` },
    storage: { sqlURL: `sqlite:${dir}/results.db` },
  });
}

/**
 * The stored books, without the columns that differ between runs (row id, time, the site's
 * address in the URL and the item key).
 */
function readRows(dir: string): Array<Record<string, unknown>> {
  const db = new DatabaseSync(`${dir}/results.db`);
  try {
    const rows = db.prepare(`SELECT * FROM "books" ORDER BY url, rule`).all() as Array<
      Record<string, unknown>
    >;
    const local = (url: unknown) => String(url).replace(/^http:\/\/[^/]+/, "");
    return rows.map(({ id: _id, time: _time, url, item_key, ...rest }) => ({
      ...rest,
      path: local(url),
      item_key: local(item_key),
    }));
  } finally {
    db.close();
  }
}

/** The paths of the frontier's requests in one state (1 leased, 2 done). */
function frontierPaths(dir: string, state: number): Set<string> {
  const db = new DatabaseSync(`${dir}/frontier.db`);
  try {
    // A row keeps its URL less its host's origin (frontier/_url_parts.ts).
    const rows = db.prepare(
      `SELECT CASE WHEN substr(u.url, 1, 1) = '/' THEN (CASE WHEN h.origin = '' THEN h.host ELSE h.origin END) || u.url ELSE u.url END AS url
       FROM frontier_urls u JOIN frontier_hosts h ON h.id = u.host WHERE u.state = ?`,
    ).all(state) as Array<{ url: string }>;
    return new Set(rows.map((r) => new URL(r.url).pathname));
  } finally {
    db.close();
  }
}

Deno.test("a standalone crawl killed with SIGKILL resumes and ends with an uninterrupted crawl's rows", async () => {
  // The reference: the same site crawled once, start to end.
  const reference = startDoubanFixture(SITE);
  const refDir = await Deno.makeTempDir();
  const site = startDoubanFixture({ ...SITE, latencyMs: 20 });
  const dir = await Deno.makeTempDir();
  try {
    const refConfig = await standaloneConfig(refDir, reference.url);
    const done = await runCrawler(["worker", "--cluster=false", `--config=${refConfig}`]);
    assert.equal(done.code, 0, done.stderr);
    const expected = readRows(refDir);
    assert.equal(expected.length, reference.books.length);

    const config = await standaloneConfig(dir, site.url);
    const args = ["worker", "--cluster=false", `--config=${config}`];
    const child = spawnCrawler(args);
    await waitFor(() => site.log.filter((p) => p.startsWith("/subject/")).length >= 40, {
      what: "the crawl to get under way (40 detail pages fetched)",
      timeoutMs: 30_000,
      intervalMs: 5,
    });
    child.kill("SIGKILL");
    const killed = await child.status;
    assert.equal(killed.signal, "SIGKILL");
    await child.stdout.cancel();
    await child.stderr.cancel();
    const fetchedBeforeKill = new Set(site.log);
    const acked = frontierPaths(dir, 2);
    const inFlight = frontierPaths(dir, 1);
    assert.ok(acked.size > 0 && acked.size < site.pages, `acked ${acked.size}`);

    const resumed = await runCrawler(args);
    assert.equal(resumed.code, 0, resumed.stderr);
    const resuming = /task books: resuming the crawl started \S+: done=(\d+) queued=(\d+)/.exec(
      resumed.stdout,
    );
    assert.ok(resuming, resumed.stdout);
    assert.equal(Number(resuming[1]), acked.size);
    assert.ok(Number(resuming[2]) > 0);
    assert.match(resumed.stdout, /summary: done/);

    assert.deepEqual(readRows(dir), expected, "the rows of an uninterrupted crawl");
    for (const [path, count] of site.requests) {
      if (acked.has(path)) assert.equal(count, 1, `${path} was acknowledged, then fetched again`);
      else if (inFlight.has(path)) assert.ok(count <= 2, `${path} fetched ${count} times`);
      else assert.equal(count, 1, `${path} fetched ${count} times`);
      if (count === 2) assert.ok(fetchedBeforeKill.has(path));
    }
    assert.equal(site.requests.size, site.pages, "every page fetched");

    // Finished: the same command starts a new crawl and says so.
    const again = await runCrawler(args);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /task books: the last crawl had finished; starting a new crawl/);
    assert.equal(site.requests.get("/"), 2);
  } finally {
    await reference.close();
    await site.close();
    await Deno.remove(refDir, { recursive: true });
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--fresh starts an unfinished standalone crawl over", async () => {
  const site = startDoubanFixture({ ...SITE, latencyMs: 20 });
  const dir = await Deno.makeTempDir();
  try {
    const config = await standaloneConfig(dir, site.url);
    const args = ["worker", "--cluster=false", `--config=${config}`];
    const child = spawnCrawler(args);
    await waitFor(() => frontierDone(dir) >= 10, {
      what: "the crawl to get under way (10 requests done)",
      timeoutMs: 30_000,
    });
    child.kill("SIGKILL");
    await child.status;
    await child.stdout.cancel();
    await child.stderr.cancel();

    const clustered = await runCrawler(["worker", "--fresh", `--config=${config}`]);
    assert.equal(clustered.code, 2);
    assert.match(clustered.stderr, /--fresh: only with --cluster=false/);

    const fresh = await runCrawler([...args, "--fresh"]);
    assert.equal(fresh.code, 0, fresh.stderr);
    assert.match(fresh.stdout, /task books: --fresh: starting a new crawl/);
    assert.equal(site.requests.get("/"), 2, "the root was fetched again");
    assert.match(fresh.stdout, new RegExp(`fetched=${site.pages} failed=0`));
  } finally {
    await site.close();
    await Deno.remove(dir, { recursive: true });
  }
});

/** Requests acknowledged so far (0 before the frontier file exists). */
function frontierDone(dir: string): number {
  try {
    Deno.statSync(`${dir}/frontier.db`);
    const db = new DatabaseSync(`${dir}/frontier.db`);
    try {
      return (db.prepare(
        `SELECT count(*) AS n FROM frontier_urls WHERE state = ${STATE_CODES.done}`,
      ).get() as {
        n: number;
      }).n;
    } finally {
      db.close();
    }
  } catch {
    return 0;
  }
}
