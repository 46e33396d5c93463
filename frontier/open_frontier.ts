/**
 * @module
 * Opens the frontier the config's `frontier.url` names: `sqlite:PATH` (the default,
 * `sqlite:data/frontier.db`), `postgres://…` (shared by workers on many machines) or `memory:`
 * (nothing kept; tests).
 */
import { ConfigError } from "../errors/mod.ts";
import type { Frontier } from "./frontier.ts";
import { MemoryFrontier } from "./memory_frontier.ts";
import { openPostgresFrontier } from "./postgres_frontier.ts";
import { SqliteFrontier } from "./sqlite_frontier.ts";
import type { PostgresPools } from "../db/postgres_pool.ts";

/** Options for {@linkcode openFrontier}. */
export interface OpenFrontierOptions {
  /** Postgres only: the process's pools (reset on a client failure, outages logged once). */
  pools?: PostgresPools;
}

/** True when workers on several machines can share the frontier `url` names. */
export function isSharedFrontierUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//.test(url);
}

/**
 * Opens `url`. A malformed URL or a SQLite file that cannot be opened is a `ConfigError` naming
 * `frontier.url`; a Postgres server that cannot be reached is a `ServiceUnavailableError`.
 */
export async function openFrontier(
  url: string,
  options: OpenFrontierOptions = {},
): Promise<Frontier> {
  if (url === "memory:") return new MemoryFrontier();
  if (isSharedFrontierUrl(url)) return await openPostgresFrontier(url, { pools: options.pools });
  const sqlite = /^sqlite:(.+)$/.exec(url);
  if (!sqlite) {
    throw new ConfigError(
      "frontier.url",
      `expected sqlite:PATH, postgres://user:pass@host:port/db or memory:, got "${url}"`,
    );
  }
  try {
    return new SqliteFrontier(sqlite[1]);
  } catch (error) {
    throw new ConfigError("frontier.url", `cannot open ${sqlite[1]}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
