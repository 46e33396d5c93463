/**
 * @module
 * Opens the results reader for the config's `storage.sqlURL`, the counterpart of `open_sink.ts`.
 */
import { ConfigError } from "../errors/mod.ts";
import { PostgresResultReader } from "./postgres_result_reader.ts";
import type { ResultReader } from "./result_reader.ts";
import { SqliteResultReader } from "./sqlite_result_reader.ts";

/**
 * A reader on `sqlite:PATH` or `postgres://user:pass@host:port/db` (also `postgresql://`).
 * Opens nothing yet: the SQLite file is opened at the first read (a missing file holds no
 * results), Postgres is connected to then. Anything else is a `ConfigError` naming
 * `storage.sqlURL`.
 *
 * @example
 * ```ts
 * const reader = openResultReader(config.storage.sqlURL);
 * try {
 *   const rows = await reader.rows("books");
 * } finally {
 *   await reader.close();
 * }
 * ```
 */
export function openResultReader(sqlURL: string): ResultReader {
  const sqlite = /^sqlite:(.+)$/.exec(sqlURL);
  if (sqlite) return new SqliteResultReader(sqlite[1]);
  if (/^postgres(ql)?:\/\/./.test(sqlURL)) return new PostgresResultReader(sqlURL);
  throw new ConfigError("storage.sqlURL", "expected sqlite:PATH or postgres://…");
}

/** True when `sqlURL` names a database every process of a cluster reaches (Postgres). */
export function isSharedResults(sqlURL: string): boolean {
  return /^postgres(ql)?:\/\//.test(sqlURL);
}

/** Where `sqlURL` keeps results, for messages: the SQLite file, or Postgres's host and database. */
export function resultsLocation(sqlURL: string): string {
  const sqlite = /^sqlite:(.+)$/.exec(sqlURL);
  if (sqlite) return sqlite[1];
  try {
    const url = new URL(sqlURL);
    return `Postgres at ${url.hostname}:${url.port || "5432"}${url.pathname}`;
  } catch {
    return "the results database";
  }
}
