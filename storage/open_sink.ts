/**
 * @module
 * Opens the results sink named by the config's `sqlURL`.
 */
import { ConfigError } from "../config/config_error.ts";
import type { Logger } from "../log/logger.ts";
import { SqliteSink } from "./sqlite_sink.ts";

export interface OpenSinkOptions {
  logger: Logger;
  batchSize?: number;
  flushIntervalMs?: number;
}

/** Opens `sqlite:PATH` (the only scheme so far); anything else is a `ConfigError`. */
export function openSink(sqlURL: string, options: OpenSinkOptions): SqliteSink {
  const match = /^sqlite:(.+)$/.exec(sqlURL);
  if (!match) throw new ConfigError("storage.sqlURL", `expected sqlite:PATH, got "${sqlURL}"`);
  try {
    return new SqliteSink(match[1], options);
  } catch (error) {
    throw new ConfigError(
      "storage.sqlURL",
      `cannot open ${match[1]}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
}
