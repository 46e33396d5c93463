/**
 * @module
 * Opens a SQLite file that several processes may open, write and close at the same instant
 * (workers on one machine share `data/*.db`).
 */
import { DatabaseSync } from "node:sqlite";

export interface OpenSqliteOptions {
  /** How long a statement waits for another process's lock before it fails, ms. Default 5000. */
  busyTimeoutMs?: number;
}

/**
 * Opens `path` (creating its folder) in WAL mode with a busy timeout.
 *
 * The busy timeout is set before anything else: switching to WAL takes a lock, and without the
 * timeout a second process opening the file at that moment fails at once with "database is
 * locked".
 */
export function openSqlite(path: string, options: OpenSqliteOptions = {}): DatabaseSync {
  if (path !== ":memory:") {
    const dir = path.replace(/[^/]*$/, "");
    if (dir) Deno.mkdirSync(dir, { recursive: true });
  }
  const db = new DatabaseSync(path);
  try {
    db.exec(`PRAGMA busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 5000)}`);
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA synchronous = NORMAL");
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}
