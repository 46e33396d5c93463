/**
 * @module
 * Hosts' politeness state in SQLite (the frontier's embedded database): shared by every
 * process on the machine that opens the same file.
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { openSqlite } from "../../db/open_sqlite.ts";
import {
  type ClaimResult,
  claimSlot,
  DEFAULT_HOST_POLICY,
  dropOwnSlots,
  type HostLimits,
  type HostOutcome,
  type HostPolicy,
  type HostState,
  newHostState,
  newSlotId,
  ownSlotMarker,
  releaseSlot,
} from "./host_state.ts";
import type { HostSnapshot, HostStore, RobotsRecord } from "./host_store.ts";
import type { HostStoreOptions } from "./memory_host_store.ts";
import type { RobotsOutcome } from "./robots_rules.ts";
import { snapshotOf } from "./_snapshot.ts";
import { decodeHostState, hostRow } from "./_host_row.ts";
import { HOSTS_TABLE_SQLITE } from "../../frontier/hosts_table.ts";

// Without rowid, as crawler_hosts: the host is stored once (see HOSTS_TABLE_SQLITE).
const SCHEMA = `${HOSTS_TABLE_SQLITE}
CREATE TABLE IF NOT EXISTS crawler_robots (
  host TEXT PRIMARY KEY,
  outcome TEXT NOT NULL,
  text TEXT NOT NULL,
  fetched_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
`;

/** Each change runs in an IMMEDIATE transaction, so processes sharing the file take turns. */
export class SqliteHostStore implements HostStore {
  readonly #db: DatabaseSync;
  readonly #policy: HostPolicy;
  readonly #now: () => number;
  readonly #owner: string | undefined;
  /** Statements prepared once: preparing costs more than running them. */
  readonly #statements = new Map<string, StatementSync>();

  /** Opens (creating) the tables in the SQLite file at `path`. */
  constructor(path: string, options: HostStoreOptions = {}) {
    this.#db = openSqlite(path);
    this.#db.exec(SCHEMA);
    this.#policy = { ...DEFAULT_HOST_POLICY, ...options.policy };
    this.#now = options.now ?? Date.now;
    this.#owner = options.owner;
  }

  claim(host: string, limits: HostLimits): Promise<ClaimResult> {
    return Promise.resolve(
      this.#update(
        host,
        (state, now) => claimSlot(state, limits, now, this.#policy, newSlotId(this.#owner)),
      ),
    );
  }

  release(
    host: string,
    slotId: string,
    outcome: HostOutcome,
    limits: HostLimits,
  ): Promise<HostSnapshot> {
    return Promise.resolve(this.#update(host, (state, now) => {
      releaseSlot(state, slotId, outcome, limits, now, this.#policy);
      return snapshotOf(state, now);
    }));
  }

  addDisallowed(host: string, count: number): Promise<void> {
    this.#update(host, (state) => {
      state.disallowed += count;
    });
    return Promise.resolve();
  }

  releaseOwn(): Promise<number> {
    const owner = this.#owner;
    if (owner === undefined) return Promise.resolve(0);
    // Once, at start: a scan of the hosts with slots held, each changed in its own transaction.
    const hosts = this.#statement(
      "SELECT host FROM crawler_hosts WHERE in_flight > 0 AND instr(state, ?) > 0",
    ).all(ownSlotMarker(owner)) as Array<{ host: string }>;
    let freed = 0;
    for (const { host } of hosts) {
      freed += this.#update(host, (state) => dropOwnSlots(state, owner));
    }
    return Promise.resolve(freed);
  }

  robots(host: string): Promise<RobotsRecord | undefined> {
    const row = this.#statement(
      "SELECT outcome, text, fetched_at, expires_at FROM crawler_robots WHERE host = ?",
    ).get(host) as
      | { outcome: RobotsOutcome; text: string; fetched_at: number; expires_at: number }
      | undefined;
    return Promise.resolve(
      row && {
        outcome: row.outcome,
        text: row.text,
        fetchedAt: row.fetched_at,
        expiresAt: row.expires_at,
      },
    );
  }

  saveRobots(host: string, record: RobotsRecord): Promise<void> {
    this.#statement(
      `INSERT INTO crawler_robots (host, outcome, text, fetched_at, expires_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (host) DO UPDATE SET outcome = excluded.outcome, text = excluded.text,
         fetched_at = excluded.fetched_at, expires_at = excluded.expires_at`,
    ).run(host, record.outcome, record.text, record.fetchedAt, record.expiresAt);
    return Promise.resolve();
  }

  snapshot(hosts?: readonly string[]): Promise<HostSnapshot[]> {
    type Row = { host: string; state: string };
    const rows = hosts
      ? [...new Set(hosts)].sort().flatMap((
        host,
      ) => (this.#statement("SELECT host, state FROM crawler_hosts WHERE host = ?").all(
        host,
      ) as Row[]))
      : this.#statement("SELECT host, state FROM crawler_hosts ORDER BY host").all() as Row[];
    const now = this.#now();
    return Promise.resolve(
      rows.map((row) => snapshotOf(decodeHostState(row.host, row.state), now)),
    );
  }

  close(): Promise<void> {
    if (this.#db.isOpen) this.#db.close();
    return Promise.resolve();
  }

  #statement(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (!statement) this.#statements.set(sql, statement = this.#db.prepare(sql));
    return statement;
  }

  /** Reads, changes and writes one host's state in one write transaction. */
  #update<T>(host: string, change: (state: HostState, now: number) => T): T {
    const db = this.#db;
    db.exec("BEGIN IMMEDIATE");
    try {
      const row = this.#statement("SELECT state FROM crawler_hosts WHERE host = ?").get(host) as
        | { state: string }
        | undefined;
      const state = row ? decodeHostState(host, row.state) : newHostState(host);
      const result = change(state, this.#now());
      const next = hostRow(state);
      this.#statement(
        `INSERT INTO crawler_hosts (host, due_at, in_flight, state) VALUES (?, ?, ?, ?)
         ON CONFLICT (host) DO UPDATE SET due_at = excluded.due_at,
           in_flight = excluded.in_flight, state = excluded.state`,
      ).run(host, next.dueAt, next.inFlight, next.state);
      db.exec("COMMIT");
      return result;
    } catch (error) {
      if (db.isTransaction) db.exec("ROLLBACK");
      throw error;
    }
  }
}
