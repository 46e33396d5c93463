/**
 * @module
 * The Postgres results sink (`storage.sqlURL = "postgres://user:pass@host:5432/db"`): the
 * layout of `result_sink.ts` in a database that workers on many machines share. Field columns
 * are `text` (values that are not strings are stored as their JSON text), `time` is
 * `timestamptz`. Schema changes run in their own short transactions under an advisory lock per
 * table, so processes adding the same table or column at once do not trip over each other.
 */
import type postgres from "postgres";
import { BatchingSink, type BatchingSinkOptions, type BatchWriter } from "./_batching_sink.ts";
import type { SinkEntry } from "./result_sink.ts";
import { fieldColumns, KEY_COLUMN, lastPerKey, quote } from "./_table_layout.ts";
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
  #open = true;

  constructor(pool: PostgresPool) {
    this.#pool = pool;
  }

  async ping(): Promise<void> {
    await this.#pool.run((sql) => sql`select 1`);
  }

  write(batch: readonly SinkEntry[]): Promise<void> {
    return this.#pool.run((sql) => this.#write(sql, batch));
  }

  async #write(sql: postgres.Sql, batch: readonly SinkEntry[]): Promise<void> {
    const groups = new Map<string, { table: string; columns: string[]; rows: SinkEntry[] }>();
    const fieldsByTable = new Map<string, Set<string>>();
    for (const entry of lastPerKey(batch)) {
      const columns = fieldColumns(entry);
      const table = entry.item.task;
      let fields = fieldsByTable.get(table);
      if (!fields) fieldsByTable.set(table, fields = new Set());
      for (const column of columns) fields.add(column);
      const id = JSON.stringify([table, columns]);
      let group = groups.get(id);
      if (!group) groups.set(id, group = { table, columns, rows: [] });
      group.rows.push(entry);
    }
    for (const [table, fields] of [...fieldsByTable].sort(([a], [b]) => a < b ? -1 : 1)) {
      await this.#ensureColumns(sql, table, [...fields]);
    }
    await sql.begin(async (tx) => {
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
    });
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

/** `name` as Postgres keeps it: cut to 63 bytes of UTF-8, on a character boundary. */
function pgName(name: string): string {
  const bytes = new TextEncoder().encode(name);
  if (bytes.length <= 63) return name;
  let end = 63;
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
