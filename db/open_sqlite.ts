/**
 * @module
 * Opens a SQLite file that several processes may open, write and close at the same instant
 * (workers on one machine share `data/*.db`).
 */
import { DatabaseSync } from "node:sqlite";
import { backoffMs } from "../async/backoff.ts";

export interface OpenSqliteOptions {
  /** How long a statement waits for another process's lock before it fails, ms. Default 5000. */
  busyTimeoutMs?: number;
}

/**
 * Opens `path` (creating its folder) in WAL mode with a busy timeout.
 *
 * The busy timeout is set before anything else: switching to WAL takes a lock, and without the
 * timeout a second process opening the file at that moment fails at once with "database is
 * locked". Even with it, SQLite answers "database is locked" without waiting in a few cases
 * (another process creating the file, switching it to WAL, or checkpointing it as it closes),
 * so the switch is tried again, for up to the busy timeout.
 */
export function openSqlite(path: string, options: OpenSqliteOptions = {}): DatabaseSync {
  if (path !== ":memory:") {
    const dir = path.replace(/[^/]*$/, "");
    if (dir) Deno.mkdirSync(dir, { recursive: true });
  }
  const busyTimeoutMs = Math.trunc(options.busyTimeoutMs ?? 5000);
  const db = new DatabaseSync(path);
  try {
    db.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
    useWal(db, path, busyTimeoutMs);
    db.exec("PRAGMA synchronous = NORMAL");
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

function useWal(db: DatabaseSync, path: string, busyTimeoutMs: number): void {
  const deadline = Date.now() + busyTimeoutMs;
  for (let attempt = 0;; attempt++) {
    try {
      // WAL is recorded in the file: once one process switched it, the others only read it.
      if (journalMode(db, "PRAGMA journal_mode") === "wal") return;
      const mode = journalMode(db, "PRAGMA journal_mode = WAL");
      if (mode === "wal" || path === ":memory:") return;
      // Another process held the file: the switch did not happen. Try again below.
    } catch (error) {
      if (!/database is locked/i.test((error as Error).message)) throw error;
      if (Date.now() >= deadline) throw error;
    }
    if (Date.now() >= deadline) throw new Error(`cannot switch ${path} to WAL: still in use`);
    sleepSync(backoffMs(attempt, { initialMs: 5, maxMs: 100 }));
  }
}

function journalMode(db: DatabaseSync, sql: string): string {
  const row = db.prepare(sql).get() as { journal_mode?: string } | undefined;
  return String(row?.journal_mode ?? "").toLowerCase();
}

/** Blocks this thread for `ms`: opening is synchronous, and only waits this way while contended. */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
