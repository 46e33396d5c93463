/**
 * The real CLI storing a crawl's results in a real Postgres: rows land there, a crawl run again
 * replaces them instead of adding more, and a bad or unreachable `storage.sqlURL` fails at start
 * with the key named.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { runCrawler, startPostgres, writeConfig } from "./kit/mod.ts";
import { startDoubanFixture } from "./douban_fixture.ts";

/** A standalone config crawling `url` with the douban rule set, storing to `sqlURL`. */
function standaloneConfig(dir: string, sqlURL: string, url: string): Promise<string> {
  return writeConfig(`${dir}/config.toml`, {
    logLevel: "warn",
    Tasks: [{ Name: "books", Rule: "douban_book_list", URL: url, WaitTime: 0, Limits: [] }],
    frontier: { url: `sqlite:${dir}/frontier.db` },
    storage: { sqlURL },
  });
}

Deno.test("a standalone crawl stores its items in Postgres, and a second run replaces them", async () => {
  await using pg = await startPostgres();
  const site = startDoubanFixture({ tags: 2, booksPerTag: 4, failOnceEvery: 0 });
  const dir = await Deno.makeTempDir();
  const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
  try {
    const config = await standaloneConfig(dir, pg.url, `${site.url}/`);
    for (let run = 1; run <= 2; run++) {
      const result = await runCrawler(["worker", "--cluster=false", `--config=${config}`]);
      assert.equal(result.code, 0, result.stderr);
      const rows = await sql`select item_key, url, "书名" as title from books order by url`;
      assert.equal(rows.length, site.books.length, `run ${run}: one row per book`);
      assert.deepEqual(
        rows.map((r) => r.title).sort(),
        site.books.map((b) => b.书名).sort(),
      );
      assert.ok(rows.every((r) => r.item_key === `${r.url}#0`));
    }
  } finally {
    await sql.end();
    await site.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("storage.sqlURL: a malformed URL exits 2, an unreachable Postgres exits 1, both naming the key", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const task = "http://127.0.0.1:9/";
    let result = await runCrawler([
      "worker",
      "--cluster=false",
      `--config=${await standaloneConfig(dir, "postgres://user:secret@[::1/db", task)}`,
    ]);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /storage\.sqlURL: malformed URL/);
    assert.doesNotMatch(result.stderr, /secret/);

    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    result = await runCrawler([
      "worker",
      "--cluster=false",
      `--config=${await standaloneConfig(
        dir,
        `postgres://crawler@127.0.0.1:${port}/crawler`,
        task,
      )}`,
    ]);
    assert.equal(result.code, 1, result.stderr);
    assert.match(
      result.stderr,
      /^crawler: storage\.sqlURL: cannot reach Postgres at .*ECONNREFUSED/m,
    );
    assert.doesNotMatch(result.stderr, /^\s+at /m, "a clear message, not a stack trace");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
