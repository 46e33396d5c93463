/**
 * @module
 * The results reader contract: what exports read a task's stored items through, whatever the
 * backend (SQLite, Postgres, or a master asking its workers). Rows come a page at a time, paged
 * by a key (keyset, never `OFFSET`), so reading a table of any size holds one page in memory.
 */
import { InvalidArgumentError } from "../errors/mod.ts";
import { KEY_COLUMN } from "./_table_layout.ts";

/** A stored value as read back: text, a number (SQLite keeps numbers), or nothing. */
export type ResultValue = string | number | null;

/** Rows per page when a query does not say. */
export const DEFAULT_PAGE_SIZE = 1000;

/** What to read of a task's table. */
export interface ResultQuery {
  /** Only rows whose `time` is at or after this instant. Default: every row. */
  since?: Date;
  /**
   * The columns to read, in this order; each must be a column of the table. Default: every
   * column but `id` and `item_key`, in table order (`rule`, `url`, `time`, then the fields).
   */
  fields?: readonly string[];
  /** Stop after this many rows. Default: no limit. */
  limit?: number;
  /**
   * `id` (default): the order rows were first stored in. `key`: by `item_key` in the
   * database's order of text (byte order in SQLite), rows without a key first; `item_key` is
   * then the first column. Several sorted streams can be merged by key without holding them.
   */
  order?: "id" | "key";
  /** Rows per page. Default {@linkcode DEFAULT_PAGE_SIZE}. */
  pageSize?: number;
}

/** A task's rows, ready to be read page by page. */
export interface ResultRows {
  /** The columns of every row, in order. */
  readonly columns: readonly string[];
  /**
   * The rows, a page (at most `pageSize` rows) at a time, each row its values in `columns`
   * order. Each page is read when asked for: stopping early reads no more.
   */
  pages(): AsyncIterable<ResultValue[][]>;
  /**
   * Gives the rows up, read or not: releases what `rows` opened for them (the master's
   * connections to its workers). Ending or breaking out of `pages()` does so too.
   */
  cancel?(): Promise<void>;
}

/**
 * Reads the results tables of `result_sink.ts`. Every backend keeps these promises (checked by
 * `result_reader_contract_test.ts`):
 *
 * - `rows` checks the table and its columns before anything is read: a task without a table is
 *   a `NoResultsError` naming it, a field the table lacks an `InvalidArgumentError` naming it.
 * - Pages follow the order asked for by keyset paging (`WHERE id > last ORDER BY id LIMIT n`),
 *   each page its own short query: no transaction or cursor is held between pages, so a long
 *   export never blocks writers, and rows stored meanwhile are read if the export has not
 *   passed their place yet. A row is never read twice.
 * - `time` reads as an ISO 8601 string in UTC (`2026-01-02T03:04:05.000Z`).
 * - A database that does not answer is a `ResultsUnavailableError`.
 *
 * @example
 * ```ts
 * const reader = openResultReader("sqlite:data/crawler.db");
 * const rows = await reader.rows("books", { since: new Date("2026-01-01") });
 * for await (const page of rows.pages()) console.log(page.length);
 * await reader.close();
 * ```
 */
export interface ResultReader {
  /** The rows of `task`'s table that `query` asks for, checked and ready to be read. */
  rows(task: string, query?: ResultQuery): Promise<ResultRows>;
  /** Releases the database. Safe to call twice. */
  close(): Promise<void>;
}

/** Rows of a task that has none: `columns` only (an empty CSV still has its header). */
export function emptyRows(columns: readonly string[]): ResultRows {
  return {
    columns,
    // deno-lint-ignore require-yield
    async *pages() {
      return;
    },
  };
}

/** The columns every table has and an export shows when no field is asked for. */
export const DEFAULT_COLUMNS: readonly string[] = ["rule", "url", "time"];

/**
 * The columns a query reads of a table whose columns are `tableColumns` (in table order):
 * the fields asked for, checked, or every column but `id` and `item_key`; `item_key` first in
 * key order. Throws `InvalidArgumentError` naming a field the table lacks.
 */
export function selectColumns(
  task: string,
  tableColumns: readonly string[],
  query: ResultQuery,
): string[] {
  const readable = tableColumns.filter((c) => c !== "id" && c !== KEY_COLUMN);
  let columns = readable;
  if (query.fields !== undefined) {
    const twice = query.fields.find((f, i) => query.fields!.indexOf(f) !== i);
    if (twice !== undefined) throw new InvalidArgumentError(`fields: "${twice}" is named twice`);
    const known = new Set(readable);
    const missing = query.fields.filter((f) => !known.has(f));
    if (missing.length > 0) {
      throw new InvalidArgumentError(
        `fields: task "${task}" has no column ${missing.map((m) => `"${m}"`).join(", ")} ` +
          `(its columns: ${readable.join(", ")})`,
      );
    }
    columns = [...query.fields];
  }
  return query.order === "key" ? [KEY_COLUMN, ...columns] : columns;
}

/**
 * Parses an ISO 8601 date (`2026-01-02`) or date and time (`2026-01-02T03:04:05Z`, an offset,
 * or none: local time); undefined when `text` is not one.
 */
export function parseSince(text: string): Date | undefined {
  const iso =
    /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;
  if (!iso.test(text.trim())) return undefined;
  const date = new Date(text.trim());
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** Parses `a,b` into field names (trimmed, none empty); undefined when there are none. */
export function parseFields(text: string): string[] | undefined {
  const fields = text.split(",").map((f) => f.trim());
  if (fields.length === 0 || fields.some((f) => f === "")) return undefined;
  return fields;
}

/** Checks a query's numbers: a positive whole `limit` and `pageSize`. */
export function checkQuery(query: ResultQuery): void {
  for (const key of ["limit", "pageSize"] as const) {
    const value = query[key];
    if (value !== undefined && !(Number.isSafeInteger(value) && value > 0)) {
      throw new RangeError(`${key} must be a positive integer, got ${value}`);
    }
  }
  if (query.since !== undefined && Number.isNaN(query.since.getTime())) {
    throw new RangeError("since is not a valid date");
  }
}
