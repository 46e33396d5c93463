/**
 * @module
 * Reads the SQLite results of `sqlite_sink.ts` (see `result_reader.ts` for the contract). The
 * file is opened read-only, when first asked and only if it exists: an export never creates a
 * results file, and in WAL mode its reads never block the sink writing the same file.
 */
import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import { NoResultsError } from "../errors/mod.ts";
import { KEY_COLUMN, quote } from "./_table_layout.ts";
import {
  checkQuery,
  DEFAULT_PAGE_SIZE,
  type ResultQuery,
  type ResultReader,
  type ResultRows,
  type ResultValue,
  selectColumns,
} from "./result_reader.ts";

/** Options for {@linkcode SqliteResultReader}. */
export interface SqliteResultReaderOptions {
  /** How long a read waits for a writer's lock (rollback-journal files only), ms. Default 5000. */
  busyTimeoutMs?: number;
}

/**
 * A results reader on a SQLite file.
 *
 * @example
 * ```ts
 * const reader = new SqliteResultReader("data/crawler.db");
 * const rows = await reader.rows("books", { fields: ["书名", "url"] });
 * ```
 */
export class SqliteResultReader implements ResultReader {
  readonly #path: string;
  readonly #busyTimeoutMs: number;
  #db: DatabaseSync | undefined;
  #closed = false;

  /** Opens nothing yet: the file is opened read-only at the first read that finds it. */
  constructor(path: string, options: SqliteResultReaderOptions = {}) {
    this.#path = path;
    this.#busyTimeoutMs = Math.trunc(options.busyTimeoutMs ?? 5000);
  }

  /** See {@linkcode ResultReader.rows}. */
  rows(task: string, query: ResultQuery = {}): Promise<ResultRows> {
    try {
      return Promise.resolve(this.#rows(task, query));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#db?.close();
    this.#db = undefined;
    return Promise.resolve();
  }

  #rows(task: string, query: ResultQuery): ResultRows {
    checkQuery(query);
    const db = this.#open();
    const table = db && tableColumns(db, task);
    if (!db || !table || table.length === 0) throw new NoResultsError(task);
    const columns = selectColumns(task, table, query);
    const pageSize = query.pageSize ?? DEFAULT_PAGE_SIZE;
    const limit = query.limit ?? Infinity;
    const since = query.since?.toISOString();
    const select = `SELECT id, ${columns.map(quote).join(", ")} FROM ${quote(task)}`;
    const timeFilter = since === undefined ? "" : ` AND "time" >= ?`;
    const prepare = (where: string, orderBy: string): StatementSync => {
      const statement = db.prepare(`${select} WHERE ${where}${timeFilter} ${orderBy} LIMIT ?`);
      statement.setReturnArrays(true);
      return statement;
    };
    const key = quote(KEY_COLUMN);
    // Key order reads the rows without a key first (by id), then the others by key: both walk
    // an index, page after page. `at` is where a row's cursor is (the id, or the key).
    const phases: Phase[] = query.order === "key"
      ? [
        {
          first: prepare(`${key} IS NULL`, "ORDER BY id"),
          next: prepare(`${key} IS NULL AND id > ?`, "ORDER BY id"),
          at: 0,
        },
        {
          first: prepare(`${key} IS NOT NULL`, `ORDER BY ${key}`),
          next: prepare(`${key} > ?`, `ORDER BY ${key}`),
          at: 1,
        },
      ]
      : [{ first: prepare("1", "ORDER BY id"), next: prepare("id > ?", "ORDER BY id"), at: 0 }];
    return {
      columns,
      async *pages() {
        let left = limit;
        for (const phase of phases) {
          let after: SQLInputValue | undefined;
          while (left > 0) {
            const size = Math.min(pageSize, left);
            const params: SQLInputValue[] = after === undefined ? [] : [after];
            if (since !== undefined) params.push(since);
            params.push(size);
            const statement = after === undefined ? phase.first : phase.next;
            const rows = statement.all(...params) as unknown as SQLInputValue[][];
            if (rows.length === 0) break;
            after = rows[rows.length - 1][phase.at];
            left -= rows.length;
            yield rows.map(toValues);
            if (rows.length < size) break;
          }
        }
      },
    };
  }

  #open(): DatabaseSync | undefined {
    if (this.#closed) throw new Error("the results reader is closed");
    if (this.#db) return this.#db;
    try {
      Deno.statSync(this.#path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    }
    const db = new DatabaseSync(this.#path, { readOnly: true });
    try {
      db.exec(`PRAGMA busy_timeout = ${this.#busyTimeoutMs}`);
    } catch (error) {
      db.close();
      throw error;
    }
    this.#db = db;
    return db;
  }
}

/** One walk over the table: its first page's statement, the next pages', the cursor's place. */
interface Phase {
  first: StatementSync;
  next: StatementSync;
  at: number;
}

/** The table's column names in table order; empty when there is no such table. */
function tableColumns(db: DatabaseSync, table: string): string[] {
  const rows = db.prepare(`PRAGMA table_info(${quote(table)})`).all() as Array<{ name: string }>;
  return rows.map((r) => r.name);
}

/** A row as read (its id first) into the values of the export's columns. */
function toValues(row: SQLInputValue[]): ResultValue[] {
  const values = row.slice(1) as ResultValue[];
  for (let i = 0; i < values.length; i++) {
    const value = values[i] as unknown;
    if (typeof value === "bigint") values[i] = Number(value);
    else if (value instanceof Uint8Array) values[i] = btoa(String.fromCharCode(...value));
  }
  return values;
}
