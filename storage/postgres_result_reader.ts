/**
 * @module
 * Reads the Postgres results of `postgres_sink.ts` (see `result_reader.ts` for the contract):
 * each page is one short statement on a small pool of its own, so an export holds no
 * transaction open and a page waits for nothing but the statement.
 */
import postgres from "postgres";
import { NoResultsError, ResultsUnavailableError } from "../errors/mod.ts";
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

/** Options for {@linkcode PostgresResultReader}. */
export interface PostgresResultReaderOptions {
  /** How long opening a connection may take before the read fails, seconds. Default 2. */
  connectTimeoutSeconds?: number;
  /** Connections at most (exports running at once share them). Default 2. */
  maxConnections?: number;
}

/**
 * A results reader on a Postgres database. Connects on first use.
 *
 * @example
 * ```ts
 * const reader = new PostgresResultReader("postgres://crawler@127.0.0.1/crawl");
 * const rows = await reader.rows("books", { order: "id" });
 * await reader.close();
 * ```
 */
export class PostgresResultReader implements ResultReader {
  readonly #sql: postgres.Sql;
  #closed = false;

  /** Connects nothing yet. */
  constructor(url: string, options: PostgresResultReaderOptions = {}) {
    this.#sql = postgres(url, {
      max: options.maxConnections ?? 2,
      connect_timeout: options.connectTimeoutSeconds ?? 2,
      onnotice: () => {},
      connection: { application_name: "crawler export" },
    });
  }

  /** See {@linkcode ResultReader.rows}. */
  async rows(task: string, query: ResultQuery = {}): Promise<ResultRows> {
    checkQuery(query);
    if (this.#closed) throw new Error("the results reader is closed");
    const table = await this.#tableColumns(task);
    if (table.length === 0) throw new NoResultsError(task);
    const columns = selectColumns(task, table, query);
    const pageSize = query.pageSize ?? DEFAULT_PAGE_SIZE;
    const limit = query.limit ?? Infinity;
    const since = query.since?.toISOString();
    const key = quote(KEY_COLUMN);
    // `id` first: the cursor of id order, dropped from what is returned.
    const select = `SELECT id, ${columns.map(quote).join(", ")} FROM ${quote(task)}`;
    const phases: Phase[] = query.order === "key"
      ? [
        {
          where: [`${key} IS NULL`],
          cursor: `${key} IS NULL AND id > $1::bigint`,
          orderBy: "id",
          at: 0,
        },
        { where: [`${key} IS NOT NULL`], cursor: `${key} > $1`, orderBy: key, at: 1 },
      ]
      : [{ where: [], cursor: "id > $1::bigint", orderBy: "id", at: 0 }];
    const sql = this.#sql;
    return {
      columns,
      async *pages() {
        let left = limit;
        for (const phase of phases) {
          let after: string | undefined;
          while (left > 0) {
            const size = Math.min(pageSize, left);
            const params: Array<string | number> = after === undefined ? [] : [after];
            const where = after === undefined ? [...phase.where] : [phase.cursor];
            if (since !== undefined) {
              params.push(since);
              where.push(`"time" >= $${params.length}::timestamptz`);
            }
            params.push(size);
            const text = `${select}${where.length ? ` WHERE ${where.join(" AND ")}` : ""} ` +
              `ORDER BY ${phase.orderBy} LIMIT $${params.length}`;
            let rows: unknown[][];
            try {
              rows = await sql.unsafe(text, params).values() as unknown[][];
            } catch (error) {
              throw unavailable(error);
            }
            if (rows.length === 0) break;
            after = String(rows[rows.length - 1][phase.at]);
            left -= rows.length;
            yield rows.map(toValues);
            if (rows.length < size) break;
          }
        }
      },
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#sql.end({ timeout: 0 });
  }

  /** The table's columns in table order; empty when there is no such table. */
  async #tableColumns(table: string): Promise<string[]> {
    try {
      const rows = await this.#sql<Array<{ name: string }>>`
        select attname as name from pg_attribute
        where attrelid = to_regclass(${quote(table)}) and attnum > 0 and not attisdropped
        order by attnum`;
      return rows.map((r) => r.name);
    } catch (error) {
      throw unavailable(error);
    }
  }
}

/** One walk over the table: its first page's filter, the next pages', its order, the cursor. */
interface Phase {
  where: string[];
  cursor: string;
  orderBy: string;
  at: number;
}

/**
 * A row as read (its id first) into the export's values: `time` (a `timestamptz`) as ISO text;
 * anything else that is not text or a number (a column someone added by hand) as its JSON.
 */
function toValues(row: unknown[]): ResultValue[] {
  const values = row.slice(1);
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (value === null || typeof value === "string" || typeof value === "number") continue;
    values[i] = value instanceof Date
      ? value.toISOString()
      : typeof value === "bigint"
      ? String(value)
      : JSON.stringify(value) ?? null;
  }
  return values as ResultValue[];
}

/**
 * A failure of the server or the network as a `ResultsUnavailableError` (retry later); an
 * error the server answered a statement with stays what it is.
 */
function unavailable(error: unknown): unknown {
  if (error instanceof Error && error.name !== "PostgresError") {
    return new ResultsUnavailableError(`the results database did not answer: ${error.message}`, {
      cause: error,
    });
  }
  return error;
}
