/**
 * Standalone crawls through the real CLI against the douban-like fixture site.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { startDoubanFixture } from "./douban_fixture.ts";
import { type ConfigInput, runCrawler, spawnCrawler, waitFor, writeConfig } from "./kit/mod.ts";

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

/** A standalone config of `tasks` over a frontier and a results file in `dir`. */
function standaloneConfig(
  dir: string,
  tasks: ConfigInput["Tasks"],
  storage: ConfigInput["storage"] = {},
): Promise<string> {
  return writeConfig(`${dir}/config.toml`, {
    logLevel: "warn",
    Tasks: tasks,
    fetcher: { timeout: 5000 },
    frontier: { url: `sqlite:${dir}/frontier.db` },
    storage: { sqlURL: `sqlite:${dir}/results.db`, ...storage },
  });
}

/** A task of the douban rule set crawling `url`, with no wait and no limit. */
function books(name: string, url: string, reload?: boolean) {
  return {
    Name: name,
    Rule: "douban_book_list",
    URL: url,
    Reload: reload,
    WaitTime: 0,
    Limits: [],
  };
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
    const config = await standaloneConfig(dir, [books("books", `${site.url}/`, false)]);
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
    const config = await standaloneConfig(dir, [books("again", `${site.url}/`, true)]);
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
    const config = await standaloneConfig(dir, [books("big", `${site.url}/`, false)], {
      batchSize: 200,
    });
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
    const config = await standaloneConfig(dir, [books("slow", `${site.url}/`)], {
      flushInterval: 60000,
    });
    const child = spawnCrawler(["worker", "--cluster=false", `--config=${config}`]);
    const stdout = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    // Wait until the crawl is under way (details are being fetched), then interrupt.
    await waitFor(() => site.log.filter((p) => p.startsWith("/subject/")).length >= 20, {
      what: "20 detail pages fetched",
      timeoutMs: 20_000,
    });
    const requestsAtInterrupt = site.log.length;
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
    // No fetch starts after the interrupt: at most those in flight (8, the default
    // fetcher.concurrency) reach the site after it.
    const late = site.log.length - requestsAtInterrupt;
    assert.ok(late <= 8, `${late} requests reached the site after SIGINT`);
  } finally {
    await site.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a bad config exits 2 naming the key; an unknown rule set too", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // A value of the wrong type, as a user may write it.
    const bad = await standaloneConfig(dir, [{ Name: "x", MaxDepth: "deep" as unknown as number }]);
    let result = await runCrawler(["worker", "--cluster=false", `--config=${bad}`]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /Tasks\[0\]\.MaxDepth: .*expected number/);

    const unknown = await standaloneConfig(dir, [{ Name: "x", Rule: "no_such_rules" }]);
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
    const config = await standaloneConfig(dir, [books("nowhere", `http://127.0.0.1:${port}/`)]);
    const result = await runCrawler(["worker", "--cluster=false", `--config=${config}`]);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stdout, /task nowhere: failed, .*root request failed/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
