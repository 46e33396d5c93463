/**
 * Exports as a user meets them: `crawler export` on the results of a real standalone crawl of
 * the douban-like fixture (GBK pages included), read back with Python's `csv`; its exit codes;
 * and `crawler dev` serving the same items over HTTP behind the API token.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { http, runCrawler, startDev, waitFor, writeConfig } from "./kit/mod.ts";
import { startDoubanFixture } from "./douban_fixture.ts";
import { parseCsvFileWithPython, parseCsvWithPython } from "./python_csv.ts";

const FIELDS = ["书名", "作者", "页数", "出版社", "得分", "价格", "简介"];

/** The table as `crawler export` should write it: every column but id and item_key, by id. */
function tableRows(path: string, table: string): { columns: string[]; rows: unknown[][] } {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const statement = db.prepare(`SELECT * FROM "${table}" ORDER BY id`);
    const rows = statement.all() as Array<Record<string, unknown>>;
    const columns = statement.columns().map((c) => c.name).filter((c) =>
      c !== "id" && c !== "item_key"
    );
    return { columns, rows: rows.map((row) => columns.map((c) => row[c])) };
  } finally {
    db.close();
  }
}

async function crawl(dir: string, site: { url: string }): Promise<string> {
  const task = (name: string) => ({
    Name: name,
    Rule: "douban_book_list",
    URL: `${site.url}/`,
    WaitTime: 0,
    Limits: [],
  });
  const files = {
    logLevel: "warn",
    frontier: { url: `sqlite:${dir}/frontier.db` },
    storage: { sqlURL: `sqlite:${dir}/results.db` },
  };
  const config = await writeConfig(`${dir}/config.toml`, {
    ...files,
    Tasks: [task("books"), task("later")],
  });
  // Crawl "books" only: a config of one task, the same files.
  const only = await writeConfig(`${dir}/crawl.toml`, { ...files, Tasks: [task("books")] });
  const result = await runCrawler(["worker", "--cluster=false", `--config=${only}`]);
  assert.equal(result.code, 0, result.stderr);
  return config;
}

Deno.test("crawler export writes a crawl's items as JSONL and CSV, read back whole; Chinese from GBK pages too", async () => {
  const site = startDoubanFixture({ tags: 3, booksPerTag: 8, gbkEvery: 2, failOnceEvery: 0 });
  const dir = await Deno.makeTempDir();
  try {
    const config = await crawl(dir, site);
    const table = tableRows(`${dir}/results.db`, "books");
    assert.equal(table.rows.length, site.books.length);
    assert.deepEqual(table.columns, ["rule", "url", "time", ...FIELDS]);

    // JSONL to stdout: a parsable line per row, the table's values.
    const jsonl = await runCrawler(["export", "--task=books", `--config=${config}`]);
    assert.equal(jsonl.code, 0, jsonl.stderr);
    const lines = jsonl.stdout.split("\n");
    assert.equal(lines.pop(), "");
    assert.equal(lines.length, table.rows.length);
    const objects = lines.map((line) => JSON.parse(line));
    assert.deepEqual(objects.map((o) => Object.values(o)), table.rows);

    // CSV to a file: Python's csv reads back the header and every value.
    const out = `${dir}/books.csv`;
    const csv = await runCrawler([
      "export",
      "--task=books",
      "--format=csv",
      `--out=${out}`,
      `--config=${config}`,
    ]);
    assert.equal(csv.code, 0, csv.stderr);
    assert.equal(csv.stdout, "");
    assert.match(csv.stderr, new RegExp(`wrote ${table.rows.length} items of "books" to `));
    const records = await parseCsvFileWithPython(out);
    assert.deepEqual(records[0], table.columns);
    assert.deepEqual(records.slice(1), table.rows.map((row) => row.map((v) => String(v ?? ""))));
    const gbk = site.books.filter((b) => b.gbk).map((b) => b.书名);
    assert.ok(gbk.length > 0 && gbk.every((title) => records.some((r) => r[3] === title)));

    // --since and --fields.
    const sinceRow = table.rows[5];
    const some = await runCrawler([
      "export",
      "--task=books",
      "--format=csv",
      `--since=${sinceRow[2]}`,
      "--fields=url,书名",
      `--config=${config}`,
    ]);
    assert.equal(some.code, 0, some.stderr);
    const picked = await parseCsvWithPython(some.stdout);
    assert.deepEqual(picked[0], ["url", "书名"]);
    const expected = table.rows.filter((row) => String(row[2]) >= String(sinceRow[2]));
    assert.deepEqual(picked.slice(1), expected.map((row) => [row[1], row[3]]));
  } finally {
    await site.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("crawler export: an unknown task exits 1 naming it, a configured one with nothing yet is empty, bad flags exit 2", async () => {
  const site = startDoubanFixture({ tags: 1, booksPerTag: 2, failOnceEvery: 0 });
  const dir = await Deno.makeTempDir();
  try {
    const config = await crawl(dir, site);
    const unknown = await runCrawler(["export", "--task=movies", `--config=${config}`]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^crawler: no results for task "movies"/);
    assert.equal(unknown.stdout, "");

    const out = `${dir}/later.csv`;
    const later = await runCrawler([
      "export",
      "--task=later",
      "--format=csv",
      `--out=${out}`,
      `--config=${config}`,
    ]);
    assert.equal(later.code, 0, later.stderr);
    assert.equal(await Deno.readTextFile(out), "rule,url,time\r\n");

    const bad: Array<[string[], RegExp]> = [
      [[], /^crawler: --task: required/],
      [["--task=books", "--format=xlsx"], /^crawler: --format: expected jsonl or csv/],
      [["--task=books", "--since=last week"], /^crawler: --since: expected an ISO 8601 date/],
      [
        ["--task=books", "--fields=书名,价钱"],
        /^crawler: --fields: task "books" has no column "价钱"/,
      ],
      [["--task=books", "--etcd=127.0.0.1:2379"], /^crawler: --etcd: unknown flag/],
    ];
    for (const [args, message] of bad) {
      const result = await runCrawler(["export", ...args, `--config=${config}`]);
      assert.equal(result.code, 2, args.join(" "));
      assert.match(result.stderr, message, args.join(" "));
    }
    // A file the export could not write is not left behind, nor made for a task without rows.
    await assert.rejects(Deno.stat(`${dir}/movies.csv`), Deno.errors.NotFound);
  } finally {
    await site.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("crawler dev serves a task's items behind the token: 401, 404, JSONL and CSV streamed", async () => {
  const site = startDoubanFixture({ tags: 2, booksPerTag: 6, failOnceEvery: 0 });
  const dir = await Deno.makeTempDir();
  const token = "export-token";
  const dev = await startDev({ cwd: dir, token });
  try {
    await waitFor(async () => {
      return (await dev.request("/crawler/leader")).body.isLeader === true;
    }, { what: "a leader", timeoutMs: 20_000 });
    const spec = { rule: "douban_book_list", url: `${site.url}/`, waitTime: 0, limits: [] };
    const added = await dev.request("/crawler/resource", {
      method: "POST",
      json: { name: "books", spec },
    });
    assert.equal(added.status, 200, JSON.stringify(added.body));
    await waitFor(async () => {
      const { body } = await dev.request("/worker/tasks");
      return (body.tasks as Array<{ state: string }>)[0]?.state === "finished";
    }, { what: "the crawl to finish", timeoutMs: 20_000 });

    const url = dev.url("/crawler/resource/books/items");
    const anonymous = await http(url);
    assert.deepEqual(anonymous, {
      status: 401,
      body: { error: "missing or invalid bearer token" },
    });
    const unknown = await dev.request("/crawler/resource/movies/items");
    assert.deepEqual(unknown, { status: 404, body: { error: 'resource "movies" does not exist' } });

    const headers = { authorization: `Bearer ${token}` };
    const jsonl = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
    assert.equal(jsonl.status, 200);
    assert.equal(jsonl.headers.get("content-type"), "application/x-ndjson; charset=utf-8");
    const lines = (await jsonl.text()).trimEnd().split("\n").map((line) => JSON.parse(line));
    const table = tableRows(`${dir}/data/crawler.db`, "books");
    assert.equal(lines.length, site.books.length);
    assert.deepEqual(lines.map((o) => Object.values(o)), table.rows);

    const csv = await fetch(`${url}?format=csv&fields=url,书名&limit=3`, {
      headers,
      signal: AbortSignal.timeout(10_000),
    });
    assert.equal(csv.headers.get("content-type"), "text/csv; charset=utf-8; header=present");
    const records = await parseCsvWithPython(await csv.text());
    assert.deepEqual(records, [
      ["url", "书名"],
      ...table.rows.slice(0, 3).map((row) => [String(row[1]), String(row[3])]),
    ]);
    assert.equal((await dev.stop("SIGTERM")).code, 0);
  } catch (error) {
    console.error(dev.logs.slice(-40).join("\n"));
    throw error;
  } finally {
    await dev.stop("SIGKILL");
    await site.close();
    await Deno.remove(dir, { recursive: true });
  }
});
