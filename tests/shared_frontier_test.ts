/**
 * Two standalone workers (real CLI processes) crawling one task from one Postgres frontier:
 * both fetch, no page is fetched twice, and both exit when the shared crawl has finished.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { startDoubanFixture } from "./douban_fixture.ts";
import { spawnCrawler, startPostgres, writeConfig } from "./kit/mod.ts";

Deno.test("two standalone workers on one Postgres frontier share a crawl, each page fetched once", async () => {
  await using pg = await startPostgres();
  const site = startDoubanFixture({ tags: 10, booksPerTag: 40, latencyMs: 50, failOnceEvery: 0 });
  const dir = await Deno.makeTempDir();
  try {
    const config = (n: number) =>
      writeConfig(`${dir}/worker${n}.toml`, {
        logLevel: "warn",
        Tasks: [{
          Name: "books",
          Rule: "douban_book_list",
          URL: `${site.url}/`,
          Reload: false,
          WaitTime: 0,
          Limits: [],
        }],
        fetcher: { timeout: 5000, concurrency: 4 },
        frontier: { url: pg.url },
        storage: { sqlURL: `sqlite:${dir}/results${n}.db` },
      });
    // Distinct --id: each is its own worker, holding its own leases. The site is slow enough
    // (~5 s for one worker) that the second joins the crawl, not a finished one.
    const workers = [1, 2].map(async (n) =>
      spawnCrawler(["worker", "--cluster=false", `--id=${n}`, `--config=${await config(n)}`])
        .output()
    );
    const results = await Promise.all(workers);
    const decoder = new TextDecoder();
    const fetched = results.map((r) => {
      const stdout = decoder.decode(r.stdout);
      assert.equal(r.code, 0, decoder.decode(r.stderr));
      const summary = /summary: done .* fetched=(\d+) failed=0/.exec(stdout);
      assert.ok(summary, stdout);
      return Number(summary[1]);
    });
    assert.ok(fetched.every((n) => n > 0), `both workers fetched: ${fetched}`);
    assert.equal(fetched[0] + fetched[1], site.pages);
    for (const [path, count] of site.requests) assert.equal(count, 1, `${path} fetched ${count}×`);
    assert.equal(site.requests.size, site.pages);

    const urls: string[] = [];
    for (const n of [1, 2]) {
      const db = new DatabaseSync(`${dir}/results${n}.db`);
      try {
        const rows = db.prepare(`SELECT url FROM "books"`).all() as Array<{ url: string }>;
        urls.push(...rows.map((r) => r.url));
      } finally {
        db.close();
      }
    }
    assert.equal(urls.length, site.books.length);
    assert.equal(new Set(urls).size, urls.length, "every book stored once, by one worker");
  } finally {
    await site.close();
    await Deno.remove(dir, { recursive: true });
  }
});
