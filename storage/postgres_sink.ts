/**
 * @module
 * The Postgres results sink (`storage.sqlURL = "postgres://user:pass@host:5432/db"`): the
 * layout of `result_sink.ts` in a database that workers on many machines share. Field columns
 * are `text` (values that are not strings are stored as their JSON text), `time` is
 * `timestamptz`. Schema changes run in their own short transactions under an advisory lock per
 * table, so processes adding the same table or column at once do not trip over each other.
 */
import type postgres from "postgres";
import {
  type BatchEntry,
  BatchingSink,
  type BatchingSinkOptions,
  type BatchWriter,
  isRetire,
  type RetireEntry,
} from "./_batching_sink.ts";
import type { SinkEntry } from "./result_sink.ts";
import { fieldColumns, KEY_COLUMN, quote, urlIndexName, writeSteps } from "./_table_layout.ts";
import { isPostgresUnavailable, type PostgresPool, PostgresPools } from "../db/postgres_pool.ts";

export interface PostgresSinkOptions extends BatchingSinkOptions {
  /** How long opening a connection may take before it counts as a failure, seconds. Default 2. */
  connectTimeoutSeconds?: number;
  /**
   * The process's pools, which reset this one when the client fails and log the database's
   * outages once. Default: a registry of its own, logging nothing.
   */
  pools?: PostgresPools;
}

/** A results sink on a Postgres database (see the module doc). */
export class PostgresSink extends BatchingSink {
  readonly #writer: PostgresWriter;

  /** Connects lazily: see {@linkcode PostgresSink.ping} to check the server at start. */
  constructor(url: string, options: PostgresSinkOptions) {
    const writer = new PostgresWriter(
      (options.pools ?? new PostgresPools()).open(url, {
        name: "results",
        max: 1,
        connectTimeoutSeconds: options.connectTimeoutSeconds,
        // Commits are synchronous in every pool's sessions: a page is acknowledged once its
        // items are committed, so that commit must be durable.
        connection: { application_name: "crawler results" },
      }),
    );
    super(writer, options);
    this.#writer = writer;
  }

  /** Resolves once the server answers a query; rejects with its error otherwise. */
  async ping(): Promise<void> {
    await this.#writer.ping();
  }
}

/** Identifies this sink's advisory locks (the other key is the table name's hash). */
const LOCK_SPACE = 0x53494e4b; // "SINK"

/** Postgres limits a statement to 65535 parameters. */
const MAX_PARAMETERS = 60_000;

class PostgresWriter implements BatchWriter {
  readonly #pool: PostgresPool;
  /** Known columns per table (as Postgres names them: at most 63 bytes). */
  readonly #columns = new Map<string, Set<string>>();
  /** Tables known to have their `url` index (made at their first retire). */
  readonly #indexed = new Set<string>();
  #open = true;

  constructor(pool: PostgresPool) {
    this.#pool = pool;
  }

  async ping(): Promise<void> {
    await this.#pool.run((sql) => sql`select 1`);
  }

  write(batch: readonly BatchEntry[]): Promise<void> {
    return this.#pool.run((sql) => this.#write(sql, batch));
  }

  async #write(sql: postgres.Sql, batch: readonly BatchEntry[]): Promise<void> {
    const steps = writeSteps(batch);
    // Schema changes first, each in its own short transaction (see the module doc).
    const fieldsByTable = new Map<string, Set<string>>();
    for (const step of steps) {
      if (!("saves" in step)) continue;
      for (const entry of step.saves) {
        let fields = fieldsByTable.get(entry.item.task);
        if (!fields) fieldsByTable.set(entry.item.task, fields = new Set());
        for (const column of fieldColumns(entry)) fields.add(column);
      }
    }
    for (const [table, fields] of [...fieldsByTable].sort(([a], [b]) => a < b ? -1 : 1)) {
      await this.#ensureColumns(sql, table, [...fields]);
    }
    const retired = [...new Set(batch.filter(isRetire).map((entry) => entry.task))].sort();
    const existing = new Set<string>();
    for (const table of retired) {
      if (await this.#prepareRetire(sql, table)) existing.add(table);
    }
    await sql.begin(async (tx) => {
      for (const step of steps) {
        if ("saves" in step) await this.#upsert(tx, step.saves);
        else if (existing.has(step.retire.task)) await this.#retire(tx, step.retire);
      }
    });
  }

  /** Upserts `entries` (one per key), a statement per table and column set. */
  async #upsert(tx: postgres.TransactionSql, entries: readonly SinkEntry[]): Promise<void> {
    const groups = new Map<string, { table: string; columns: string[]; rows: SinkEntry[] }>();
    for (const entry of entries) {
      const columns = fieldColumns(entry);
      const table = entry.item.task;
      const id = JSON.stringify([table, columns]);
      let group = groups.get(id);
      if (!group) groups.set(id, group = { table, columns, rows: [] });
      group.rows.push(entry);
    }
    for (const { table, columns, rows } of groups.values()) {
      const names = [KEY_COLUMN, "rule", "url", "time", ...columns];
      const perStatement = Math.max(1, Math.floor(MAX_PARAMETERS / names.length));
      for (let start = 0; start < rows.length; start += perStatement) {
        const chunk = rows.slice(start, start + perStatement);
        const params: Array<string | null> = [];
        const tuples = chunk.map(({ item }) => {
          const values = [
            item.key,
            item.rule,
            item.url,
            new Date(item.time).toISOString(),
            ...columns.map((c) => toPostgres(item.data[c])),
          ];
          const first = params.length;
          params.push(...values.map((v) => v === null ? null : stripNul(v)));
          return `(${
            names.map((name, i) => `$${first + i + 1}${name === "time" ? "::timestamptz" : ""}`)
              .join(", ")
          })`;
        });
        await tx.unsafe(
          `INSERT INTO ${quote(table)} (${names.map(quote).join(", ")}) VALUES ${
            tuples.join(", ")
          } ON CONFLICT (${quote(KEY_COLUMN)}) DO UPDATE SET ${
            names.slice(1).map((n) => `${quote(n)} = EXCLUDED.${quote(n)}`).join(", ")
          }`,
          params,
        );
      }
    }
  }

  /**
   * Deletes the retired page's rows not kept. The keys go in as one JSON parameter (a page may
   * keep thousands), NUL stripped as they were when stored.
   */
  async #retire(tx: postgres.TransactionSql, { task, url, keep }: RetireEntry): Promise<void> {
    await tx.unsafe(
      `DELETE FROM ${quote(task)} WHERE url = $1 AND (${quote(KEY_COLUMN)} IS NULL OR ${
        quote(KEY_COLUMN)
      } NOT IN (SELECT json_array_elements_text($2::text::json)))`,
      [stripNul(url), JSON.stringify(keep.map(stripNul))],
    );
  }

  retriable(error: unknown): boolean {
    if (!this.#open || !(error instanceof Error)) return false;
    if (isPostgresUnavailable(error)) return true;
    const code = (error as { code?: unknown }).code;
    // Insufficient resources, operator intervention, system errors, transaction rollbacks
    // (deadlock, serialization), a lock not available.
    return error.name === "PostgresError" && typeof code === "string" &&
      (/^(53|57|58|40)/.test(code) || code === "55P03");
  }

  async close(): Promise<void> {
    if (!this.#open) return;
    this.#open = false;
    // Queries in flight on a dead connection would wait for it forever: stop them.
    await this.#pool.close(0);
  }

  /**
   * Readies `table` for retires: false if it does not exist (nothing to delete). Its first
   * retire indexes its `url`, so a delete reads only the page's rows, and gives a table from
   * before keys its `item_key` column.
   */
  async #prepareRetire(sql: postgres.Sql, table: string): Promise<boolean> {
    if (this.#indexed.has(table)) return true;
    const exists = await sql.begin(async (tx) => {
      await tx`select pg_advisory_xact_lock(${LOCK_SPACE}::int, hashtext(${table}))`;
      const [row] = await tx<Array<{ found: boolean }>>`
        select to_regclass(${quote(table)}) is not null as found`;
      if (!row.found) return false;
      // The name cut so that Postgres does not cut it to the table's own (63 bytes at most).
      await tx.unsafe(
        `CREATE INDEX IF NOT EXISTS ${quote(urlIndexName(pgName(table, 59)))} ON ${
          quote(table)
        } (url)`,
      );
      return true;
    });
    if (!exists) return false;
    await this.#ensureColumns(sql, table, []);
    this.#indexed.add(table);
    return true;
  }

  /** Creates the table and adds missing columns, unless known to exist. */
  async #ensureColumns(sql: postgres.Sql, table: string, fields: readonly string[]): Promise<void> {
    const cached = this.#columns.get(table);
    if (cached && fields.every((f) => cached.has(pgName(f)))) return;
    const known = await sql.begin(async (tx) => {
      // Two processes creating one table (or column) at once can fail even with IF NOT
      // EXISTS: the lock makes them take turns, and the second sees the first's work.
      await tx`select pg_advisory_xact_lock(${LOCK_SPACE}::int, hashtext(${table}))`;
      await tx.unsafe(
        `CREATE TABLE IF NOT EXISTS ${quote(table)} (id bigint GENERATED BY DEFAULT AS IDENTITY ` +
          `PRIMARY KEY, ${quote(KEY_COLUMN)} text UNIQUE, rule text, url text, "time" timestamptz)`,
      );
      const rows = await tx<Array<{ name: string }>>`
        select attname as name from pg_attribute
        where attrelid = ${quote(table)}::regclass and attnum > 0 and not attisdropped`;
      const known = new Set(rows.map((r) => r.name));
      if (!known.has(KEY_COLUMN)) {
        // A table from before items had keys: old rows keep a NULL key (NULLs never clash).
        await tx.unsafe(`ALTER TABLE ${quote(table)} ADD COLUMN ${quote(KEY_COLUMN)} text UNIQUE`);
        known.add(KEY_COLUMN);
      }
      for (const field of fields) {
        if (known.has(pgName(field))) continue;
        await tx.unsafe(`ALTER TABLE ${quote(table)} ADD COLUMN ${quote(field)} text`);
        known.add(pgName(field));
      }
      return known;
    });
    this.#columns.set(table, known);
  }
}

/** `name` as Postgres keeps it: cut to `max` (63) bytes of UTF-8, on a character boundary. */
function pgName(name: string, max = 63): string {
  const bytes = new TextEncoder().encode(name);
  if (bytes.length <= max) return name;
  let end = max;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return new TextDecoder().decode(bytes.subarray(0, end));
}

function toPostgres(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean") {
    return String(value);
  }
  return JSON.stringify(value);
}

/** Postgres text cannot hold NUL; pages sometimes do. */
function stripNul(text: string): string {
  return text.includes("\0") ? text.replaceAll("\0", "\uFFFD") : text;
}
