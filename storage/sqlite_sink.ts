/**
 * @module
 * The SQLite results sink (`storage.sqlURL = "sqlite:PATH"`, the default): the layout of
 * `result_sink.ts` in one file that several processes on one machine may share. Each batch is
 * one `BEGIN IMMEDIATE` transaction, so a writer waits for the others (busy timeout) instead of
 * failing, and schema changes are decided under the write lock, where no other process can race
 * them.
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { openSqlite } from "../db/open_sqlite.ts";
import {
  type BatchEntry,
  BatchingSink,
  type BatchingSinkOptions,
  type BatchWriter,
  type RetireEntry,
} from "./_batching_sink.ts";
import type { SinkEntry } from "./result_sink.ts";
import { fieldColumns, KEY_COLUMN, quote, urlIndexName, writeSteps } from "./_table_layout.ts";

export interface SqliteSinkOptions extends BatchingSinkOptions {
  /** How long a write waits for another writer's lock before it retries later, ms. Default 5000. */
  busyTimeoutMs?: number;
}

/** A results sink on a SQLite file (see the module doc). */
export class SqliteSink extends BatchingSink {
  constructor(path: string, options: SqliteSinkOptions) {
    super(new SqliteWriter(openSqlite(path, { busyTimeoutMs: options.busyTimeoutMs })), options);
  }
}

/** SQLite result codes (from the error message: node:sqlite gives no code) that pass by. */
const TRANSIENT =
  /database is locked|database table is locked|disk I\/O error|database or disk is full|unable to open database file|locking protocol/i;

class SqliteWriter implements BatchWriter {
  readonly #db: DatabaseSync;
  /** Known columns per table, so the schema is read only when a new table or field appears. */
  readonly #columns = new Map<string, Set<string>>();
  /** Prepared upserts and deletes by SQL text: one per table (and column set). */
  readonly #statements = new Map<string, StatementSync>();
  /** Tables known to have their `url` index (made at their first retire). */
  readonly #indexed = new Set<string>();
  #open = true;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  write(batch: readonly BatchEntry[]): Promise<void> {
    if (!this.#open) return Promise.reject(new Error("the SQLite sink is closed"));
    // IMMEDIATE takes the write lock up front, waiting up to the busy timeout. A deferred
    // transaction would read first and then fail at once, without waiting, when it tries to
    // write after another process did.
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      for (const step of writeSteps(batch)) {
        if ("retire" in step) this.#retire(step.retire);
        else for (const entry of step.saves) this.#upsert(entry);
      }
      this.#db.exec("COMMIT");
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      // The rolled back transaction may have added columns or indexes the caches now list.
      this.#columns.clear();
      this.#indexed.clear();
      this.#statements.clear();
      throw error;
    }
    return Promise.resolve();
  }

  retriable(error: unknown): boolean {
    return this.#open && error instanceof Error && TRANSIENT.test(error.message);
  }

  close(): Promise<void> {
    if (this.#open) {
      this.#open = false;
      this.#db.close();
    }
    return Promise.resolve();
  }

  #upsert(entry: SinkEntry): void {
    const { item } = entry;
    const fields = fieldColumns(entry);
    this.#ensureColumns(item.task, fields);
    const names = [KEY_COLUMN, "rule", "url", "time", ...fields];
    const sql = `INSERT INTO ${quote(item.task)} (${names.map(quote).join(", ")}) VALUES (${
      names.map(() => "?").join(", ")
    }) ON CONFLICT(${KEY_COLUMN}) DO UPDATE SET ${
      names.slice(1).map((n) => `${quote(n)} = excluded.${quote(n)}`).join(", ")
    }`;
    this.#prepare(sql).run(
      item.key,
      item.rule,
      item.url,
      new Date(item.time).toISOString(),
      ...fields.map((f) => toSqlite(item.data[f])),
    );
  }

  /**
   * Deletes the retired page's rows not kept; runs inside the write transaction. The keys go in
   * as one JSON parameter (a page may keep thousands: more than SQLite takes as parameters).
   * The table's first retire indexes its `url`, so a delete reads only the page's rows.
   */
  #retire({ task, url, keep }: RetireEntry): void {
    if (!this.#columns.has(task)) {
      const exists = this.#db.prepare(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ? COLLATE NOCASE",
      ).get(task);
      if (!exists) return;
      // A table from before keys gets its item_key column here.
      this.#ensureColumns(task, []);
    }
    if (!this.#indexed.has(task)) {
      this.#db.exec(
        `CREATE INDEX IF NOT EXISTS ${quote(urlIndexName(task))} ON ${quote(task)} (url)`,
      );
      this.#indexed.add(task);
    }
    this.#prepare(
      `DELETE FROM ${quote(task)} WHERE url = ? AND (${quote(KEY_COLUMN)} IS NULL OR ${
        quote(KEY_COLUMN)
      } NOT IN (SELECT value FROM json_each(?)))`,
    ).run(url, JSON.stringify(keep));
  }

  /** The prepared statement of `sql`, prepared once. */
  #prepare(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /** Creates the table and adds missing columns; runs inside the write transaction. */
  #ensureColumns(table: string, fields: readonly string[]): void {
    let known = this.#columns.get(table);
    if (known && fields.every((f) => known!.has(f.toLowerCase()))) return;
    // Read under the write lock: what another process added is seen here, and nobody can add
    // a column between this read and the ALTER below.
    this.#db.exec(
      `CREATE TABLE IF NOT EXISTS ${quote(table)} (id INTEGER PRIMARY KEY AUTOINCREMENT, ${
        quote(KEY_COLUMN)
      } TEXT UNIQUE, rule TEXT, url TEXT, time TEXT)`,
    );
    known = this.#readColumns(table);
    if (!known.has(KEY_COLUMN)) {
      // A table from before items had keys: its old rows keep a NULL key (NULLs never clash).
      this.#db.exec(`ALTER TABLE ${quote(table)} ADD COLUMN ${quote(KEY_COLUMN)} TEXT`);
      this.#db.exec(
        `CREATE UNIQUE INDEX IF NOT EXISTS ${quote(`${table}_${KEY_COLUMN}`)} ON ${quote(table)} (${
          quote(KEY_COLUMN)
        })`,
      );
      known.add(KEY_COLUMN);
    }
    for (const field of fields) {
      if (known.has(field.toLowerCase())) continue;
      this.#db.exec(`ALTER TABLE ${quote(table)} ADD COLUMN ${quote(field)}`);
      known.add(field.toLowerCase());
      this.#statements.clear();
    }
    this.#columns.set(table, known);
  }

  /** The table's column names, lower-cased (SQLite compares them without case). */
  #readColumns(table: string): Set<string> {
    const rows = this.#db.prepare(`PRAGMA table_info(${quote(table)})`).all() as Array<
      { name: string }
    >;
    return new Set(rows.map((r) => r.name.toLowerCase()));
  }
}

type SqliteValue = string | number | bigint | null | Uint8Array;

function toSqlite(value: unknown): SqliteValue {
  if (value === undefined || value === null) return null;
  if (typeof value === "string" || typeof value === "number" || typeof value === "bigint") {
    return value;
  }
  if (typeof value === "boolean") return value ? 1 : 0;
  return JSON.stringify(value);
}
