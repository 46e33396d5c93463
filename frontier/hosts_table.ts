/**
 * @module
 * The `crawler_hosts` table, one row per host, that the SQL host stores keep and a frontier in
 * the same database reads when it claims: a host whose `due_at` has not come is skipped, so no
 * worker claims requests it could not fetch yet. It lives with the frontier, below the host
 * stores of `spider/politeness/` that write it.
 */

/**
 * The table in SQLite. Without rowid: the host is stored once, as the key of the table's one
 * b-tree, not also in a separate index (a broad crawl keeps a row for each of its hosts).
 * Files made before keep their rowid table, which works the same.
 */
export const HOSTS_TABLE_SQLITE = `
CREATE TABLE IF NOT EXISTS crawler_hosts (
  host TEXT PRIMARY KEY,
  due_at INTEGER NOT NULL,
  in_flight INTEGER NOT NULL,
  state TEXT NOT NULL
) WITHOUT ROWID;`;

/** The table in Postgres. */
export const HOSTS_TABLE_POSTGRES = `
CREATE TABLE IF NOT EXISTS crawler_hosts (
  host TEXT PRIMARY KEY,
  due_at BIGINT NOT NULL,
  in_flight INTEGER NOT NULL,
  state TEXT NOT NULL,
  version BIGINT NOT NULL DEFAULT 0
);`;

/**
 * A SQL condition on a row of `requests` (an alias or table name with a `host` column holding
 * `hostKey` values): true when its host is due at `now` (an SQL expression or placeholder).
 */
export function hostIsDue(requests: string, now: string): string {
  return `NOT EXISTS (SELECT 1 FROM crawler_hosts h WHERE h.host = ${requests}.host AND h.due_at > ${now})`;
}
