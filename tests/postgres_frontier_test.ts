/**
 * The standalone CLI on a Postgres frontier: a crawl survives the server going away and coming
 * back, and a server that cannot be reached at start is a clear error.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { startDoubanFixture } from "./douban_fixture.ts";
import { runCrawler, spawnCrawler, startPostgres, waitFor, writeConfig } from "./kit/mod.ts";

/** A standalone config crawling the site at `siteUrl` from the frontier at `frontierUrl`. */
function standaloneConfig(dir: string, siteUrl: string, frontierUrl: string): Promise<string> {
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
    frontier: { url: frontierUrl, leaseTime: 3 },
    storage: { sqlURL: `sqlite:${dir}/results.db` },
  });
}

Deno.test("a crawl on a Postgres frontier waits while the server is down and finishes when it is back", async () => {
  await using pg = await startPostgres();
  const site = startDoubanFixture({ tags: 5, booksPerTag: 40, latencyMs: 30, failOnceEvery: 0 });
  const dir = await Deno.makeTempDir();
  try {
    const config = await standaloneConfig(dir, site.url, pg.url);
    const child = spawnCrawler(["worker", "--cluster=false", `--config=${config}`]);
    const output = child.output();
    await waitFor(() => site.log.filter((p) => p.startsWith("/subject/")).length >= 30, {
      what: "the crawl to get under way (30 detail pages fetched)",
      timeoutMs: 30_000,
    });
    await pg.stop(); // the postmaster and its backends: connections break
    // The outage itself: the server stays away this long.
    await new Promise((r) => setTimeout(r, 1500));
    await pg.restart();
    const result = await output;
    const stdout = new TextDecoder().decode(result.stdout);
    const stderr = new TextDecoder().decode(result.stderr);
    assert.equal(result.code, 0, stderr);
    assert.match(stdout, /summary: done/);
    // The crawl felt the outage, and waited it out; the outage is told once (as a warning, the
    // waiting of claims and acknowledgements only at info).
    assert.equal(stderr.match(/Postgres is unavailable; waiting for it/g)?.length, 1, stderr);
    assert.doesNotMatch(stderr, /failed; retrying/);
    const db = new DatabaseSync(`${dir}/results.db`);
    try {
      const rows = db.prepare(`SELECT url FROM "books"`).all() as Array<{ url: string }>;
      assert.equal(rows.length, site.books.length);
      assert.equal(new Set(rows.map((r) => r.url)).size, rows.length, "no book stored twice");
    } finally {
      db.close();
    }
    // A page fetched but not yet acknowledged when the server went away can outlive its lease
    // (3 s) before its ack reaches the server again, and is then fetched once more; never more.
    for (const [path, count] of site.requests) assert.ok(count <= 2, `${path} fetched ${count}×`);
    assert.equal(site.requests.size, site.pages);
  } finally {
    await site.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a Postgres frontier that cannot be reached at start exits 1 naming frontier.url", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // A port nothing listens on: taken from the OS, then released.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    const config = await standaloneConfig(
      dir,
      "http://127.0.0.1:9",
      `postgres://crawler@127.0.0.1:${port}/crawler`,
    );
    const result = await runCrawler(["worker", "--cluster=false", `--config=${config}`]);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /crawler: frontier\.url: cannot open the frontier at postgres:/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
