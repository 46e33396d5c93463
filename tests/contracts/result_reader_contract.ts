/**
 * @module
 * One contract every results reader keeps, as a list of cases run against each backend: SQLite
 * on a temporary file (storage/result_reader_contract_test.ts) and Postgres on a real server, a
 * fresh database per case (tests/postgres_result_reader_test.ts). Rows are stored the way the
 * crawl stores them, through the backend's sink.
 */
import assert from "node:assert/strict";
import { silentLogger } from "../../log/logger.ts";
import { InvalidArgumentError, NoResultsError } from "../../errors/mod.ts";
import type { Item } from "../../spider/item.ts";
import type { ResultQuery, ResultReader, ResultValue } from "../../storage/result_reader.ts";
import type { ResultSink } from "../../storage/result_sink.ts";

/** One empty database of one backend. */
export interface Backend {
  sink(): ResultSink;
  reader(): ResultReader;
  /** Runs SQL both backends understand, as another client would. */
  exec(sql: string): Promise<void>;
  /** The id column's type for a table made by hand. */
  readonly idType: string;
  dispose(): Promise<void>;
}

export const SINK = { logger: silentLogger, batchSize: 500, flushIntervalMs: 60_000 };

const T0 = Date.UTC(2026, 0, 2, 3, 4, 5);

export const item = (task: string, key: string, data: Record<string, unknown>, at = T0): Item => ({
  task,
  rule: "list",
  url: `http://shop.test/${key}`,
  time: at,
  key,
  data,
});

/** Stores `count` items `k00000…` with a field `n` and one second apart from T0. */
async function storeMany(db: Backend, task: string, count: number): Promise<void> {
  const sink = db.sink();
  for (let i = 0; i < count; i++) {
    sink.save(item(task, `k${String(i).padStart(5, "0")}`, { n: `${i}` }, T0 + i * 1000), ["n"]);
  }
  await sink.close();
}

/** Every page of a read, and the rows they hold. */
export async function read(reader: ResultReader, task: string, query: ResultQuery = {}) {
  const rows = await reader.rows(task, query);
  const pages: ResultValue[][][] = [];
  for await (const page of rows.pages()) pages.push(page);
  return { columns: rows.columns, pages, rows: pages.flat() };
}

export const cases: Array<[string, (db: Backend) => Promise<void>]> = [
  ["rows come in id order with every column but id and item_key, time in ISO", async (db) => {
    const sink = db.sink();
    sink.save(item("books", "b", { 书名: "活着", 作者: "余华" }), ["书名", "作者"]);
    sink.save(item("books", "a", { 书名: "兄弟" }, T0 + 1), ["书名"]);
    await sink.flush();
    // A later field becomes a column; the earlier rows read it empty.
    sink.save(item("books", "c", { 书名: "许三观卖血记", 页数: "260" }, T0 + 2), ["书名", "页数"]);
    await sink.close();
    const { columns, rows } = await read(db.reader(), "books");
    assert.deepEqual(columns, ["rule", "url", "time", "书名", "作者", "页数"]);
    assert.deepEqual(rows, [
      ["list", "http://shop.test/b", "2026-01-02T03:04:05.000Z", "活着", "余华", null],
      ["list", "http://shop.test/a", "2026-01-02T03:04:05.001Z", "兄弟", null, null],
      ["list", "http://shop.test/c", "2026-01-02T03:04:05.002Z", "许三观卖血记", null, "260"],
    ]);
  }],

  ["pages hold at most pageSize rows and follow each other by id", async (db) => {
    await storeMany(db, "t", 2500);
    const { pages, rows } = await read(db.reader(), "t", { pageSize: 1000, fields: ["n"] });
    assert.deepEqual(pages.map((p) => p.length), [1000, 1000, 500]);
    assert.deepEqual(rows.map((r) => r[0]), [...Array(2500).keys()].map(String));
    // An exact multiple of the page size ends without an empty page.
    const exact = await read(db.reader(), "t", { pageSize: 500, limit: 1000 });
    assert.deepEqual(exact.pages.map((p) => p.length), [500, 500]);
  }],

  ["since keeps the rows stored at or after the instant", async (db) => {
    await storeMany(db, "t", 10);
    const since = new Date(T0 + 7000);
    const { rows } = await read(db.reader(), "t", { since, fields: ["n", "time"], pageSize: 2 });
    assert.deepEqual(rows, [
      ["7", "2026-01-02T03:04:12.000Z"],
      ["8", "2026-01-02T03:04:13.000Z"],
      ["9", "2026-01-02T03:04:14.000Z"],
    ]);
    const none = await read(db.reader(), "t", { since: new Date(T0 + 3_600_000) });
    assert.deepEqual(none.rows, []);
  }],

  ["fields picks columns in the order asked; a column the table lacks is named", async (db) => {
    await storeMany(db, "t", 3);
    const { columns, rows } = await read(db.reader(), "t", { fields: ["n", "url"] });
    assert.deepEqual(columns, ["n", "url"]);
    assert.deepEqual(rows[2], ["2", "http://shop.test/k00002"]);
    await assert.rejects(
      db.reader().rows("t", { fields: ["n", "价格", "id"] }),
      (error: Error) =>
        error instanceof InvalidArgumentError && /"价格", "id"/.test(error.message) &&
        /columns: rule, url, time, n/.test(error.message),
    );
    await assert.rejects(db.reader().rows("t", { fields: ["item_key"] }), InvalidArgumentError);
  }],

  ["limit stops after that many rows, across pages", async (db) => {
    await storeMany(db, "t", 50);
    const { pages } = await read(db.reader(), "t", { limit: 23, pageSize: 10 });
    assert.deepEqual(pages.map((p) => p.length), [10, 10, 3]);
  }],

  ["a task without a table is a NoResultsError naming it", async (db) => {
    await storeMany(db, "t", 1);
    await assert.rejects(
      db.reader().rows("nothing here"),
      (error: Error) =>
        error instanceof NoResultsError && error.task === "nothing here" &&
        error.message === 'no results for task "nothing here"',
    );
  }],

  [
    "key order: rows without a key first by id, then by key, item_key the first column",
    async (db) => {
      await db.exec(
        `CREATE TABLE "old" (id ${db.idType}, rule TEXT, url TEXT, time TEXT, v TEXT); ` +
          `INSERT INTO "old" (rule, url, time, v) VALUES ('r', 'u1', NULL, 'old1'), ('r', 'u2', NULL, 'old2')`,
      );
      const sink = db.sink();
      for (const key of ["m", "b", "z", "a", "k"]) sink.save(item("old", key, { v: key }), ["v"]);
      await sink.close();
      const { columns, rows } = await read(db.reader(), "old", {
        order: "key",
        fields: ["v"],
        pageSize: 2,
      });
      assert.deepEqual(columns, ["item_key", "v"]);
      assert.deepEqual(rows, [
        [null, "old1"],
        [null, "old2"],
        ["a", "a"],
        ["b", "b"],
        ["k", "k"],
        ["m", "m"],
        ["z", "z"],
      ]);
      const limited = await read(db.reader(), "old", { order: "key", limit: 3, pageSize: 2 });
      assert.deepEqual(limited.rows.map((r) => r[0]), [null, null, "a"]);
    },
  ],

  ["a row stored again during a read is not read twice; a new row is read once", async (db) => {
    await storeMany(db, "t", 4);
    const rows = await db.reader().rows("t", { fields: ["n"], pageSize: 2 });
    const pages = rows.pages()[Symbol.asyncIterator]();
    const first = await pages.next();
    assert.deepEqual(first.value, [["0"], ["1"]]);
    const sink = db.sink();
    sink.save(item("t", "k00000", { n: "0 again" }), ["n"]); // already read: keeps its id
    sink.save(item("t", "k00003", { n: "3 again" }), ["n"]); // not read yet
    sink.save(item("t", "new", { n: "new" }), ["n"]);
    await sink.close();
    const rest: ResultValue[][] = [];
    for (let next = await pages.next(); !next.done; next = await pages.next()) {
      rest.push(...next.value);
    }
    assert.deepEqual(rest, [["2"], ["3 again"], ["new"]]);
  }],
];
