/**
 * @module
 * One contract every results sink keeps, as a list of cases run against each backend: SQLite on a
 * temporary file (storage/sink_contract_test.ts) and Postgres on a real server, a fresh database
 * per case (tests/postgres_sink_contract_test.ts). Each backend can also make itself unavailable
 * — another process holding SQLite's write lock, the Postgres server killed — and available
 * again, to check that items wait and nothing is lost.
 */
import assert from "node:assert/strict";
import { silentLogger } from "../../log/logger.ts";
import { holdsFor, waitFor } from "../kit/wait.ts";
import type { Item } from "../../spider/item.ts";
import type { BatchingSinkOptions } from "../../storage/_batching_sink.ts";

import { type ResultSink, SinkClosedError } from "../../storage/result_sink.ts";

export type Row = Record<string, unknown>;
export type SinkOptions = Omit<Partial<BatchingSinkOptions>, "logger">;

/** One empty database of one backend. */
export interface Backend {
  /** Which SQL the backend speaks. */
  readonly dialect: "sqlite" | "postgres";
  open(options?: SinkOptions): ResultSink;
  /** The table's rows ordered by id, `id` a number and `time` an ISO string. */
  rows(table: string): Promise<Row[]>;
  /** Runs SQL both backends understand, as another client would. */
  exec(sql: string): Promise<void>;
  /** Makes writes fail as a busy or vanished database does, until `restore`. */
  breakIt(): Promise<void>;
  restore(): Promise<void>;
  dispose(): Promise<void>;
}

export const FAST: BatchingSinkOptions = {
  logger: silentLogger,
  retryDelayMs: 20,
  maxRetryDelayMs: 200,
};

let sequence = 0;
export const item = (task: string, key: string, data: Record<string, unknown>): Item => ({
  task,
  rule: "list",
  url: `http://shop.test/${key}`,
  time: Date.UTC(2026, 0, 2, 3, 4, 5) + sequence++,
  key,
  data,
});

export const pick = (rows: Row[], ...columns: string[]) =>
  rows.map((row) => Object.fromEntries(columns.map((c) => [c, row[c]])));

export const cases: Array<[string, (backend: Backend) => Promise<void>]> = [
  ["a table per task, a column per field plus id, item_key, rule, url and time", async (db) => {
    const sink = db.open({ batchSize: 10, flushIntervalMs: 60_000 });
    const when = Date.UTC(2026, 0, 2, 3, 4, 5);
    sink.save({ ...item("books", "k1", { 书名: "活着", 作者: "余华" }), time: when }, [
      "书名",
      "作者",
    ]);
    sink.save(item("other task", "k1", { title: "t" }), ["title"]);
    assert.equal(sink.stored, 0, "items wait in the buffer");
    assert.equal(sink.buffered, 2);
    await sink.close();
    assert.equal(sink.stored, 2);
    assert.deepEqual(await db.rows("books"), [{
      id: 1,
      item_key: "k1",
      rule: "list",
      url: "http://shop.test/k1",
      time: "2026-01-02T03:04:05.000Z",
      书名: "活着",
      作者: "余华",
    }]);
    assert.deepEqual(pick(await db.rows("other task"), "item_key", "title"), [{
      item_key: "k1",
      title: "t",
    }]);
  }],

  ["saving an item again replaces its row: one row per key, its id kept", async (db) => {
    const sink = db.open({ batchSize: 100, flushIntervalMs: 60_000 });
    sink.save(item("t", "a", { v: "1" }), ["v"]);
    sink.save(item("t", "b", { v: "1" }), ["v"]);
    await sink.flush();
    const ids = new Map((await db.rows("t")).map((row) => [row.item_key, row.id]));
    sink.save(item("t", "a", { v: "2" }), ["v"]);
    sink.save(item("t", "c", { v: "1" }), ["v"]);
    sink.save(item("t", "c", { v: "2" }), ["v"]); // twice in one batch
    await sink.close();
    // Another process crawling the same page again (a failover, a lease expiry).
    const other = db.open();
    other.save(item("t", "b", { v: "3" }), ["v"]);
    await other.close();
    const rows = await db.rows("t");
    assert.deepEqual(pick(rows, "item_key", "v"), [
      { item_key: "a", v: "2" },
      { item_key: "b", v: "3" },
      { item_key: "c", v: "2" },
    ]);
    assert.equal(rows[0].id, ids.get("a"));
    assert.equal(rows[1].id, ids.get("b"));
  }],

  ["a later item's new field becomes a column; earlier rows have it empty", async (db) => {
    const sink = db.open();
    sink.save(item("t", "a", { x: "1" }), ["x"]);
    await sink.flush();
    sink.save(item("t", "b", { x: "2", y: { nested: true } }), ["x", "y"]);
    await sink.close();
    assert.deepEqual(pick(await db.rows("t"), "x", "y"), [
      { x: "1", y: null },
      { x: "2", y: '{"nested":true}' },
    ]);
  }],

  ["fields named like the fixed columns are not stored over them", async (db) => {
    const sink = db.open();
    sink.save(item("t", "a", { url: "evil", item_key: "x", name: "n" }), [
      "url",
      "item_key",
      "name",
    ]);
    await sink.close();
    assert.deepEqual(pick(await db.rows("t"), "item_key", "url", "name"), [
      { item_key: "a", url: "http://shop.test/a", name: "n" },
    ]);
  }],

  [
    "an item the database cannot take is logged and dropped; the rest of its batch is stored",
    async (db) => {
      const sink = db.open({ flushIntervalMs: 60_000 });
      sink.save(item("t", "a", { v: "1" }), ["v"]);
      sink.save({ ...item("t", "bad", { v: "2" }), time: Number.NaN }, ["v"]);
      sink.save(item("t", "c", { v: "3" }), ["v"]);
      await sink.close();
      assert.equal(sink.rejected, 1);
      assert.equal(sink.stored, 2);
      assert.deepEqual(pick(await db.rows("t"), "item_key"), [{ item_key: "a" }, {
        item_key: "c",
      }]);
    },
  ],

  ["a full batch is written at once, the rest on the timer", async (db) => {
    const sink = db.open({ batchSize: 3, flushIntervalMs: 300 });
    for (let i = 0; i < 4; i++) sink.save(item("t", `k${i}`, { n: `${i}` }), ["n"]);
    await waitFor(() => sink.stored >= 3, { what: "the full batch" });
    assert.equal(sink.buffered, 1, "the fourth waits for the timer");
    await waitFor(() => sink.stored === 4, { what: "the timer" });
    assert.equal((await db.rows("t")).length, 4);
    await sink.close();
  }],

  ["a table from before items had keys gets item_key, old rows kept", async (db) => {
    await db.exec(
      `CREATE TABLE "old" (id ${
        db.dialect === "sqlite" ? "INTEGER PRIMARY KEY AUTOINCREMENT" : "serial PRIMARY KEY"
      }, rule TEXT, url TEXT, time TEXT, v TEXT); ` +
        `INSERT INTO "old" (rule, url, time, v) VALUES ('r', 'u', NULL, 'old1'), ('r', 'u', NULL, 'old2')`,
    );
    const sink = db.open();
    sink.save(item("old", "a", { v: "new" }), ["v"]);
    await sink.flush();
    sink.save(item("old", "a", { v: "newer" }), ["v"]);
    await sink.close();
    assert.deepEqual(pick(await db.rows("old"), "item_key", "v"), [
      { item_key: null, v: "old1" },
      { item_key: null, v: "old2" },
      { item_key: "a", v: "newer" },
    ]);
  }],

  ["sinks of two processes create the same table and columns at once without error", async (db) => {
    const sinks = [db.open(), db.open(), db.open()];
    const fields = ["a", "b", "c", "d"];
    for (let round = 0; round < 5; round++) {
      sinks.forEach((sink, s) => {
        for (let i = 0; i < 20; i++) {
          // Each sink adds the fields in its own order; keys overlap across sinks.
          const own = fields.slice(s).concat(fields.slice(0, s)).slice(0, 1 + ((round + i) % 4));
          sink.save(
            item(`race${round}`, `k${i}`, Object.fromEntries(own.map((f) => [f, `${s}`]))),
            own,
          );
        }
      });
      await Promise.all(sinks.map((sink) => sink.flush()));
      const rows = await db.rows(`race${round}`);
      assert.deepEqual(
        rows.map((r) => r.item_key).sort(),
        [...Array(20).keys()].map((i) => `k${i}`).sort(),
      );
    }
    for (const sink of sinks) {
      await sink.close();
      assert.equal(sink.rejected, 0);
    }
  }],

  [
    "a retire deletes the page's rows it no longer outputs; kept rows and other pages stay",
    async (db) => {
      const sink = db.open({ batchSize: 100, flushIntervalMs: 60_000 });
      const page = "http://shop.test/p1";
      for (const key of ["p1#0", "p1#1", "p1#2"]) {
        sink.save({ ...item("t", key, { v: key }), url: page }, ["v"]);
      }
      sink.save(item("t", "p2#0", { v: "p2" }), ["v"]);
      sink.save({ ...item("other", "p1#1", { v: "other task" }), url: page }, ["v"]);
      await sink.flush();
      const before = await db.rows("t");
      // More keys than a statement takes parameters.
      const keep = ["p1#0", "p1#2", ...Array.from({ length: 70_000 }, (_, i) => `gone#${i}`)];
      sink.retire("t", page, keep);
      assert.equal(sink.buffered, 0, "a retire is no item");
      await sink.flush();
      assert.equal(sink.stored, 5, "a retire counts as no stored item");
      assert.equal(sink.rejected, 0);
      const after = await db.rows("t");
      // The kept rows are untouched: same id, same time.
      assert.deepEqual(after, before.filter((row) => row.item_key !== "p1#1"));
      assert.deepEqual(pick(after, "item_key", "url"), [
        { item_key: "p1#0", url: page },
        { item_key: "p1#2", url: page },
        { item_key: "p2#0", url: "http://shop.test/p2#0" },
      ]);
      assert.deepEqual(pick(await db.rows("other"), "item_key"), [{ item_key: "p1#1" }]);
      sink.retire("t", page, []);
      await sink.close();
      assert.deepEqual(pick(await db.rows("t"), "item_key"), [{ item_key: "p2#0" }]);
    },
  ],

  ["a retire deletes the page's rows from before keys too; it adds item_key first", async (db) => {
    await db.exec(
      `CREATE TABLE "old" (id ${
        db.dialect === "sqlite" ? "INTEGER PRIMARY KEY AUTOINCREMENT" : "serial PRIMARY KEY"
      }, rule TEXT, url TEXT, time TEXT, v TEXT); ` +
        `INSERT INTO "old" (rule, url, time, v) VALUES ('r', 'u', NULL, 'old1'), ('r', 'w', NULL, 'old2')`,
    );
    const sink = db.open();
    sink.retire("old", "u", []);
    await sink.close();
    assert.deepEqual(pick(await db.rows("old"), "item_key", "v"), [{ item_key: null, v: "old2" }]);
  }],

  ["a retire on a task without a table deletes nothing and makes no table", async (db) => {
    const sink = db.open({ flushIntervalMs: 60_000 });
    sink.retire("never saved", "http://shop.test/p1", []);
    sink.save(item("t", "a", { v: "1" }), ["v"]);
    sink.retire("never saved", "http://shop.test/p1", ["x"]);
    await sink.close();
    assert.equal(sink.stored, 1);
    assert.equal(sink.rejected, 0);
    assert.deepEqual(pick(await db.rows("t"), "item_key"), [{ item_key: "a" }]);
    await assert.rejects(async () => await db.rows("never saved"), /never saved/);
  }],

  [
    "saves and retires are applied in order: a retire sees the saves before it, not after",
    async (db) => {
      const sink = db.open({ batchSize: 100, flushIntervalMs: 60_000 });
      const page = "http://shop.test/p";
      const on = (key: string, v: string) => ({ ...item("t", key, { v }), url: page });
      sink.save(on("a", "1"), ["v"]);
      sink.save(on("b", "1"), ["v"]);
      await sink.flush();
      // One flush, one batch: save, retire, save.
      sink.save(on("c", "1"), ["v"]);
      sink.save(on("a", "2"), ["v"]);
      sink.retire("t", page, ["a"]);
      sink.save(on("d", "1"), ["v"]);
      sink.save(on("b", "2"), ["v"]);
      await sink.flush();
      assert.equal(sink.stored, 6);
      assert.deepEqual(pick(await db.rows("t"), "item_key", "v"), [
        { item_key: "a", v: "2" },
        { item_key: "d", v: "1" },
        { item_key: "b", v: "2" },
      ]);
      await sink.close();
    },
  ],

  [
    "a retire the database refuses is logged and dropped; the entries around it are stored",
    async (db) => {
      // A table without a url column: no delete of a page's rows can run on it.
      await db.exec(`CREATE TABLE "odd" (id INTEGER PRIMARY KEY, v TEXT)`);
      const sink = db.open({ flushIntervalMs: 60_000 });
      sink.save(item("t", "a", { v: "1" }), ["v"]);
      sink.retire("odd", "http://shop.test/p", []);
      sink.save(item("t", "b", { v: "2" }), ["v"]);
      await sink.close();
      assert.equal(sink.stored, 2);
      assert.equal(sink.rejected, 0);
      assert.deepEqual(pick(await db.rows("t"), "item_key"), [{ item_key: "a" }, {
        item_key: "b",
      }]);
    },
  ],

  [
    "a retire waits while the database is unavailable and is applied once it is back",
    async (db) => {
      const sink = db.open({ flushIntervalMs: 60_000 });
      const page = "http://shop.test/p";
      sink.save({ ...item("t", "a", { v: "1" }), url: page }, ["v"]);
      sink.save({ ...item("t", "b", { v: "1" }), url: page }, ["v"]);
      await sink.flush();
      await db.breakIt();
      sink.retire("t", page, ["b"]);
      let flushed = false;
      const flushing = sink.flush().then(() => flushed = true);
      await holdsFor(() => !flushed, { what: "the flush waiting for the retire", forMs: 150 });
      await db.restore();
      await flushing;
      await sink.close();
      assert.deepEqual(pick(await db.rows("t"), "item_key"), [{ item_key: "b" }]);
    },
  ],

  [
    "flush waits while the database is unavailable and stores everything once it is back",
    async (db) => {
      const sink = db.open({ batchSize: 5, flushIntervalMs: 20 });
      sink.save(item("t", "before", { v: "0" }), ["v"]);
      await sink.flush();
      await db.breakIt();
      for (let i = 0; i < 12; i++) sink.save(item("t", `k${i}`, { v: `${i}` }), ["v"]);
      let flushed = false;
      const flushing = sink.flush().then(() => flushed = true);
      // The flush waits while the database is away (300 ms, many retries), dropping nothing.
      await holdsFor(() => !flushed && sink.buffered === 12, {
        what: "the flush waiting with every item buffered",
        forMs: 300,
      });
      await db.restore();
      await flushing;
      assert.equal(sink.stored, 13);
      await sink.close();
      assert.equal((await db.rows("t")).length, 13);
    },
  ],

  [
    "close with a signal gives up on an unavailable database: flush rejects, nothing hangs",
    async (db) => {
      const sink = db.open({ flushIntervalMs: 60_000 });
      sink.save(item("t", "a", { v: "1" }), ["v"]);
      await sink.flush();
      await db.breakIt();
      sink.save(item("t", "b", { v: "2" }), ["v"]);
      const flushing = sink.flush();
      const closing = sink.close({ signal: AbortSignal.timeout(300) });
      await assert.rejects(flushing, SinkClosedError);
      await closing;
      assert.throws(() => sink.save(item("t", "c", {}), []), /closed/);
      await db.restore();
      assert.deepEqual(pick(await db.rows("t"), "item_key"), [{ item_key: "a" }]);
    },
  ],
];
