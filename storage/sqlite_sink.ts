/**
 * @module
 * The SQLite results sink: a table per task (named after it), a column per item field plus
 * `rule`, `url` and `time`. Items are buffered and written in one transaction per flush, on a
 * timer, when a batch fills, and at close.
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { openSqlite } from "./open_sqlite.ts";
import type { ItemSink } from "../spider/crawler.ts";
import type { Item } from "../spider/item.ts";
import type { Logger } from "../log/logger.ts";

export interface SqliteSinkOptions {
  logger: Logger;
  /** Items that trigger a flush. Default 100. */
  batchSize?: number;
  /** Longest time an item waits in the buffer, ms. Default 1000. */
  flushIntervalMs?: number;
  /** How long a write waits for another writer's lock before it fails, ms. Default 5000. */
  busyTimeoutMs?: number;
}

const RESERVED = new Set(["id", "rule", "url", "time"]);

export class SqliteSink implements ItemSink {
  readonly #db: DatabaseSync;
  readonly #logger: Logger;
  readonly #batchSize: number;
  readonly #flushIntervalMs: number;
  #buffer: Array<{ item: Item; fields: readonly string[] }> = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Known columns per table, so schema changes happen only when a new field appears. */
  readonly #columns = new Map<string, Set<string>>();
  #stored = 0;
  #closed = false;
  /** Prepared inserts by SQL text: one per table and column set, reused for every row. */
  readonly #statements = new Map<string, StatementSync>();

  constructor(path: string, options: SqliteSinkOptions) {
    // WAL and a busy timeout let several workers on one machine share a database file.
    this.#db = openSqlite(path, { busyTimeoutMs: options.busyTimeoutMs });
    this.#logger = options.logger;
    this.#batchSize = options.batchSize ?? 100;
    this.#flushIntervalMs = options.flushIntervalMs ?? 1000;
  }

  /** Items written to the database so far. */
  get stored(): number {
    return this.#stored;
  }

  /** Items waiting for the next flush. */
  get buffered(): number {
    return this.#buffer.length;
  }

  save(item: Item, fields: readonly string[]): void {
    if (this.#closed) throw new Error("sink is closed");
    this.#buffer.push({ item, fields });
    if (this.#buffer.length >= this.#batchSize) this.#writeOrKeep();
    else this.#timer ??= setTimeout(() => this.#writeOrKeep(), this.#flushIntervalMs);
  }

  /** Writes everything buffered. Throws if the database refuses; the items stay buffered. */
  flush(): Promise<void> {
    this.#write();
    return Promise.resolve();
  }

  /** Flushes and closes the database. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
    this.#db.close();
  }

  #writeOrKeep(): void {
    try {
      this.#write();
    } catch (error) {
      this.#logger.error("storing items failed; keeping them for the next flush", {
        items: this.#buffer.length,
        error,
      });
      this.#timer ??= setTimeout(() => this.#writeOrKeep(), this.#flushIntervalMs);
    }
  }

  #write(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#buffer.length === 0) return;
    const batch = this.#buffer;
    this.#db.exec("BEGIN");
    try {
      for (const { item, fields } of batch) this.#insert(item, fields);
      this.#db.exec("COMMIT");
    } catch (error) {
      this.#db.exec("ROLLBACK");
      // A failed transaction may have left cached columns that do not exist.
      this.#columns.clear();
      this.#statements.clear();
      throw error;
    }
    this.#buffer = this.#buffer.slice(batch.length);
    this.#stored += batch.length;
  }

  #insert(item: Item, fields: readonly string[]): void {
    const columns = fields.filter((f) => !RESERVED.has(f));
    this.#ensureTable(item.task, columns);
    const names = ["rule", "url", "time", ...columns];
    const sql = `INSERT INTO ${quote(item.task)} (${names.map(quote).join(", ")}) VALUES (${
      names.map(() => "?").join(", ")
    })`;
    const values = [
      item.rule,
      item.url,
      new Date(item.time).toISOString(),
      ...columns.map((f) => toSql(item.data[f])),
    ];
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    statement.run(...values);
  }

  #ensureTable(table: string, fields: readonly string[]): void {
    let known = this.#columns.get(table);
    if (!known) {
      this.#db.exec(
        `CREATE TABLE IF NOT EXISTS ${
          quote(table)
        } (id INTEGER PRIMARY KEY AUTOINCREMENT, rule TEXT, url TEXT, time TEXT)`,
      );
      const rows = this.#db.prepare(`PRAGMA table_info(${quote(table)})`).all() as Array<
        { name: string }
      >;
      known = new Set(rows.map((r) => r.name));
      this.#columns.set(table, known);
    }
    for (const field of fields) {
      if (known.has(field)) continue;
      this.#db.exec(`ALTER TABLE ${quote(table)} ADD COLUMN ${quote(field)}`);
      this.#statements.clear();
      known.add(field);
    }
  }
}

function quote(identifier: string): string {
  return `"${identifier.replaceAll('"', '""')}"`;
}

type SqlValue = string | number | bigint | null | Uint8Array;

function toSql(value: unknown): SqlValue {
  if (value === undefined || value === null) return null;
  if (typeof value === "string" || typeof value === "number" || typeof value === "bigint") {
    return value;
  }
  if (typeof value === "boolean") return value ? 1 : 0;
  return JSON.stringify(value);
}
