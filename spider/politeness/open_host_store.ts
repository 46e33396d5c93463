/**
 * @module
 * The host store that goes with a frontier: the same database, so politeness is shared exactly
 * as widely as the frontier is.
 */
import type { HostStore } from "./host_store.ts";
import { MemoryHostStore } from "./memory_host_store.ts";
import { PostgresHostStore, type PostgresHostStoreOptions } from "./postgres_host_store.ts";
import { SqliteHostStore } from "./sqlite_host_store.ts";

/**
 * The host store for `frontier.url`: `sqlite:PATH` (tables beside the frontier's in that file),
 * `postgres://…` (shared by every worker on the database), or `memory:` (this process only).
 * `options.pools` is for Postgres only (see {@linkcode PostgresHostStoreOptions}).
 */
export function openHostStore(
  frontierUrl: string,
  options: PostgresHostStoreOptions = {},
): HostStore {
  if (frontierUrl === "memory:") return new MemoryHostStore(options);
  if (frontierUrl.startsWith("sqlite:")) {
    return new SqliteHostStore(frontierUrl.slice("sqlite:".length), options);
  }
  if (/^postgres(ql)?:\/\//.test(frontierUrl)) return new PostgresHostStore(frontierUrl, options);
  throw new RangeError(`no host store for frontier URL ${JSON.stringify(frontierUrl)}`);
}
