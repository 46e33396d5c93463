/**
 * @module
 * Opens the results sink named by the config's `storage.sqlURL`.
 */
import { ConfigError, ServiceUnavailableError } from "../errors/mod.ts";
import type { BatchingSinkOptions } from "./_batching_sink.ts";
import { PostgresSink } from "./postgres_sink.ts";
import type { PostgresPools } from "../db/postgres_pool.ts";
import type { ResultSink } from "./result_sink.ts";
import { SqliteSink } from "./sqlite_sink.ts";

const KEY = "storage.sqlURL";

/** Options for {@linkcode openSink}: batching, and how long connecting may take. */
export interface OpenSinkOptions extends BatchingSinkOptions {
  /** Postgres only: how long opening a connection may take, seconds. Default 2. */
  connectTimeoutSeconds?: number;
  /** Postgres only: the process's pools (reset on a client failure, outages logged once). */
  pools?: PostgresPools;
}

/**
 * Opens `sqlite:PATH` or `postgres://user:pass@host:port/db` (also `postgresql://`).
 * A malformed URL or a file that cannot be opened is a `ConfigError` (exit 2); a Postgres that
 * does not answer is a `ServiceUnavailableError` (exit 1). Both name `storage.sqlURL`.
 */
export async function openSink(sqlURL: string, options: OpenSinkOptions): Promise<ResultSink> {
  const sqlite = /^sqlite:(.+)$/.exec(sqlURL);
  if (sqlite) {
    try {
      return new SqliteSink(sqlite[1], options);
    } catch (error) {
      throw new ConfigError(KEY, `cannot open ${sqlite[1]}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
  if (!/^postgres(ql)?:\/\//.test(sqlURL)) {
    throw new ConfigError(KEY, `expected sqlite:PATH or postgres://…, got "${redact(sqlURL)}"`);
  }
  checkPostgresURL(sqlURL);
  const sink = new PostgresSink(sqlURL, options);
  try {
    await sink.ping();
  } catch (error) {
    await sink.close();
    throw new ServiceUnavailableError(
      KEY,
      `cannot reach Postgres at ${redact(sqlURL)}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  return sink;
}

/** Throws a `ConfigError` unless `url` is a Postgres URL with a host (and a valid port). */
function checkPostgresURL(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(KEY, `malformed URL "${redact(url)}"`);
  }
  if (parsed.hostname === "") {
    throw new ConfigError(KEY, `"${redact(url)}" names no host (postgres://user:pass@host/db)`);
  }
}

/** `url` with its password hidden, for messages. */
function redact(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:/@]*:)[^@/]*@/i, "$1***@");
}
