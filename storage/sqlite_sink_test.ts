import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { SqliteSink } from "./sqlite_sink.ts";
import { silentLogger } from "../log/logger.ts";
import type { Item } from "../spider/item.ts";

let position = 0;
const item = (task: string, data: Record<string, unknown>, url = "http://x/1"): Item => ({
  task,
  key: `${url}#${position++}`,
  rule: "书籍简介",
  url,
  time: Date.UTC(2026, 0, 2, 3, 4, 5),
  data,
});

async function tempDb(): Promise<string> {
  return `${await Deno.makeTempDir()}/sub/results.db`;
}

Deno.test("sqlite sink writes a table per task with a column per field plus rule, url and time", async () => {
  const path = await tempDb();
  const sink = new SqliteSink(path, {
    logger: silentLogger,
    batchSize: 10,
    flushIntervalMs: 60_000,
  });
  sink.save(item("books", { 书名: "活着", 页数: 191 }), ["书名", "页数"]);
  sink.save(item("other task", { title: "t" }, "http://y/"), ["title"]);
  assert.equal(sink.stored, 0, "items are buffered until a flush");
  await sink.close();
  const db = new DatabaseSync(path);
  try {
    const books = db.prepare(`SELECT * FROM "books"`).all();
    assert.deepEqual(books.map((r) => ({ ...r })), [{
      id: 1,
      rule: "书籍简介",
      url: "http://x/1",
      time: "2026-01-02T03:04:05.000Z",
      书名: "活着",
      页数: 191,
    }]);
    assert.equal(db.prepare(`SELECT count(*) AS n FROM "other task"`).get()!.n, 1);
  } finally {
    db.close();
  }
});

Deno.test("sqlite sink flushes when a batch fills and on its timer", async () => {
  const path = await tempDb();
  const sink = new SqliteSink(path, { logger: silentLogger, batchSize: 3, flushIntervalMs: 50 });
  try {
    for (let i = 0; i < 3; i++) sink.save(item("t", { n: i }), ["n"]);
    assert.equal(sink.stored, 3, "a full batch is written at once");
    sink.save(item("t", { n: 3 }), ["n"]);
    assert.equal(sink.stored, 3);
    await new Promise((r) => setTimeout(r, 120));
    assert.equal(sink.stored, 4, "the timer flushed the rest");
  } finally {
    await sink.close();
  }
});

Deno.test("sqlite sink adds a column when a later item brings a new field", async () => {
  const path = await tempDb();
  const sink = new SqliteSink(path, { logger: silentLogger });
  sink.save(item("t", { a: 1 }), ["a"]);
  await sink.flush();
  sink.save(item("t", { a: 2, b: { nested: true } }), ["a", "b"]);
  await sink.close();
  const db = new DatabaseSync(path);
  try {
    const rows = db.prepare(`SELECT a, b FROM "t" ORDER BY id`).all().map((r) => ({ ...r }));
    assert.deepEqual(rows, [{ a: 1, b: null }, { a: 2, b: '{"nested":true}' }]);
  } finally {
    db.close();
  }
});

Deno.test("sqlite sink keeps items it could not write and writes them later", async () => {
  const path = await tempDb();
  const sink = new SqliteSink(path, {
    logger: silentLogger,
    flushIntervalMs: 60_000,
    busyTimeoutMs: 0,
  });
  sink.save(item("t", { a: 1 }), ["a"]);
  await sink.flush();
  // Another writer holds the database: the next flush must fail and keep its items.
  const other = new DatabaseSync(path);
  other.exec("PRAGMA busy_timeout = 0; BEGIN EXCLUSIVE");
  sink.save(item("t", { a: 2 }), ["a"]);
  assert.throws(() => sink.flush() as unknown as void);
  assert.equal(sink.buffered, 1);
  other.exec("COMMIT");
  other.close();
  await sink.close();
  const db = new DatabaseSync(path);
  try {
    assert.equal(db.prepare(`SELECT count(*) AS n FROM "t"`).get()!.n, 2);
  } finally {
    db.close();
  }
});
