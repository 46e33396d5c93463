/**
 * Standalone crawls through the real CLI against the douban-like fixture site.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { startDoubanFixture } from "./douban_fixture.ts";
import { runCrawler, spawnCrawler } from "./cli.ts";

interface BookRow {
  url: string;
  rule: string;
  书名: string;
  作者: string;
  页数: number;
  出版社: string;
  得分: string;
  价格: string;
  简介: string;
}

async function writeConfig(dir: string, tasks: string, extra = ""): Promise<string> {
  const path = `${dir}/config.toml`;
  await Deno.writeTextFile(
    path,
    `logLevel = "warn"\nTasks = [\n${tasks}\n]\n[fetcher]\ntimeout = 5000\n[storage]\nsqlURL = "sqlite:${dir}/results.db"\n${extra}`,
  );
  return path;
}

function readRows(dir: string, table: string): BookRow[] {
  const db = new DatabaseSync(`${dir}/results.db`);
  try {
    return db.prepare(`SELECT * FROM "${table}" ORDER BY url`).all() as unknown as BookRow[];
  } finally {
    db.close();
  }
}

Deno.test("standalone crawl stores every book once with the right fields, GBK pages included", async () => {
  const site = startDoubanFixture({ tags: 3, booksPerTag: 6 });
  const dir = await Deno.makeTempDir();
  try {
    const config = await writeConfig(
      dir,
      `{Name = "books", Rule = "douban_book_list", URL = "${site.url}/", Reload = false, WaitTime = 0, Limits = []}`,
    );
    const result = await runCrawler(["worker", "--cluster=false", `--config=${config}`]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /summary: done .* fetched=22 failed=0 items=18 stored=18/);

    const rows = readRows(dir, "books");
    assert.equal(rows.length, site.books.length);
    assert.equal(new Set(rows.map((r) => r.url)).size, rows.length, "no book stored twice");
    const byUrl = new Map(rows.map((r) => [r.url, r]));
    for (const book of site.books) {
      const row = byUrl.get(`${site.url}/subject/${book.id}/`);
      assert.ok(row, `book ${book.id} stored`);
      assert.deepEqual(
        [row.书名, row.作者, row.页数, row.出版社, row.得分, row.价格, row.简介, row.rule],
        [book.书名, book.作者, book.页数, book.出版社, book.得分, book.价格, book.简介, "书籍简介"],
        `book ${book.id}${book.gbk ? " (GBK)" : ""}`,
      );
    }
    assert.ok(site.books.some((b) => b.gbk) && site.books.some((b) => b.failsOnce));
    // Shared books appear on two list pages but are fetched once; failing ones once more.
    for (const book of site.books) {
      assert.equal(site.requests.get(`/subject/${book.id}/`), book.failsOnce ? 2 : 1);
    }
  } finally {
    await site.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("standalone crawl with Reload = true fetches a book again from each list", async () => {
  const site = startDoubanFixture({ tags: 2, booksPerTag: 3, failOnceEvery: 0 });
  const dir = await Deno.makeTempDir();
  try {
    const config = await writeConfig(
      dir,
      `{Name = "again", Rule = "douban_book_list", URL = "${site.url}/", Reload = true, WaitTime = 0, Limits = []}`,
    );
    const result = await runCrawler(["worker", "--cluster=false", `--config=${config}`]);
    assert.equal(result.code, 0, result.stderr);
    // Each list links the next tag's first book too, so those two are fetched twice; their
    // items have the same key both times, so each is still one row.
    const rows = readRows(dir, "again");
    assert.equal(site.requests.get(`/subject/${site.books[0].id}/`), 2);
    assert.equal(rows.length, site.books.length);
  } finally {
    await site.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("standalone crawl of a 2,000-page site finishes with every book in SQLite", async () => {
  const site = startDoubanFixture({ tags: 20, booksPerTag: 99, failOnceEvery: 0 });
  const dir = await Deno.makeTempDir();
  try {
    assert.ok(site.pages >= 2000);
    const config = await writeConfig(
      dir,
      `{Name = "big", Rule = "douban_book_list", URL = "${site.url}/", Reload = false, WaitTime = 0, Limits = []}`,
      `batchSize = 200\n`,
    );
    const result = await runCrawler(["worker", "--cluster=false", `--config=${config}`]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(readRows(dir, "big").length, site.books.length);
    assert.match(result.stdout, new RegExp(`fetched=${site.pages} failed=0`));
  } finally {
    await site.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SIGINT stops a standalone crawl, flushes what it got and exits 0", async () => {
  const site = startDoubanFixture({ tags: 5, booksPerTag: 40, latencyMs: 50, failOnceEvery: 0 });
  const dir = await Deno.makeTempDir();
  try {
    const config = await writeConfig(
      dir,
      `{Name = "slow", Rule = "douban_book_list", URL = "${site.url}/", WaitTime = 0, Limits = []}`,
      `flushInterval = 60000\n`,
    );
    const child = spawnCrawler(["worker", "--cluster=false", `--config=${config}`]);
    const stdout = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    // Wait until the crawl is under way (details are being fetched), then interrupt.
    const deadline = Date.now() + 20_000;
    while (site.log.filter((p) => p.startsWith("/subject/")).length < 20) {
      assert.ok(Date.now() < deadline, "crawl did not start");
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill("SIGINT");
    for (;;) {
      const { value, done } = await stdout.read();
      if (done) break;
      out += value;
    }
    const status = await child.status;
    const stderr = await new Response(child.stderr).text();
    assert.equal(status.code, 0, stderr);
    const summary = /summary: interrupted .* items=(\d+) stored=(\d+)/.exec(out);
    assert.ok(summary, out);
    assert.equal(summary[1], summary[2], "every item produced was stored");
    const rows = readRows(dir, "slow");
    assert.equal(rows.length, Number(summary[2]));
    assert.ok(rows.length > 0 && rows.length < site.books.length);
    // Nothing is fetched after the process is gone.
    const before = site.log.length;
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(site.log.length, before);
  } finally {
    await site.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a bad config exits 2 naming the key; an unknown rule set too", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const bad = await writeConfig(dir, `{Name = "x", MaxDepth = "deep"}`);
    let result = await runCrawler(["worker", "--cluster=false", `--config=${bad}`]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /Tasks\[0\]\.MaxDepth: .*expected number/);

    const unknown = await writeConfig(dir, `{Name = "x", Rule = "no_such_rules"}`);
    result = await runCrawler(["worker", "--cluster=false", `--config=${unknown}`]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /Tasks\[0\]\.Rule: .*unknown rule set "no_such_rules"/);
    // Cluster roles check their presets the same way, before they touch etcd.
    for (const role of ["master", "worker", "dev"]) {
      result = await runCrawler([role, `--config=${unknown}`]);
      assert.equal(result.code, 2, role);
      assert.match(result.stderr, /Tasks\[0\]\.Rule: .*unknown rule set "no_such_rules"/);
    }

    result = await runCrawler(["worker", "--cluster=maybe"]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--cluster: expected true or false/);

    result = await runCrawler(["worker", "--cluster=false", `--config=${dir}/missing.toml`]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--config: cannot read/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a standalone run whose task cannot fetch its root exits 1 and says the task failed", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close(); // nothing listens there
  const dir = await Deno.makeTempDir();
  try {
    const config = await writeConfig(
      dir,
      `{Name = "nowhere", Rule = "douban_book_list", URL = "http://127.0.0.1:${port}/", WaitTime = 0, Limits = []}`,
    );
    const result = await runCrawler(["worker", "--cluster=false", `--config=${config}`]);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stdout, /task nowhere: failed, .*root request failed/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
