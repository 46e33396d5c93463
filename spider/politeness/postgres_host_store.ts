/**
 * @module
 * Hosts' politeness state in Postgres (the shared frontier's database): one schedule per host
 * for every worker on every machine.
 */
import type postgres from "postgres";
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
import { HOSTS_TABLE_POSTGRES } from "../../frontier/hosts_table.ts";
import { type PostgresPool, PostgresPools } from "../../db/postgres_pool.ts";

/** Options for {@linkcode PostgresHostStore}. */
export interface PostgresHostStoreOptions extends HostStoreOptions {
  /**
   * The process's pools, which reset this one when the client fails and log the database's
   * outages once. Default: a registry of its own, logging nothing.
   */
  pools?: PostgresPools;
}

/** The server's clock in ms: one clock for every worker, as the frontier's leases use. */
const NOW = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

const SCHEMA = `${HOSTS_TABLE_POSTGRES}
CREATE TABLE IF NOT EXISTS crawler_robots (
  host TEXT PRIMARY KEY,
  outcome TEXT NOT NULL,
  text TEXT NOT NULL,
  fetched_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
`;

/**
 * Each change locks the host's row (`SELECT … FOR UPDATE`) for one short transaction, so two
 * workers claiming the same host take turns and never share a slot.
 */
export class PostgresHostStore implements HostStore {
  readonly #pool: PostgresPool;
  readonly #policy: HostPolicy;
  /** A clock given in the options (tests); otherwise the database's, shared by all workers. */
  readonly #now: (() => number) | undefined;
  readonly #owner: string | undefined;
  #ready: Promise<void> | undefined;

  /**
   * A store on the database at `url`. It connects on first use and creates its tables then;
   * {@linkcode PostgresHostStore.open} does that at once.
   */
  constructor(url: string, options: PostgresHostStoreOptions = {}) {
    this.#pool = (options.pools ?? new PostgresPools()).open(url, { name: "host state", max: 4 });
    this.#policy = { ...DEFAULT_HOST_POLICY, ...options.policy };
    this.#now = options.now;
    this.#owner = options.owner;
  }

  /** Connects to `url` and creates the tables. Rejects when the database is unreachable. */
  static async open(
    url: string,
    options: PostgresHostStoreOptions = {},
  ): Promise<PostgresHostStore> {
    const store = new PostgresHostStore(url, options);
    try {
      await store.#schema();
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  /** Creates the tables once; a failed attempt is tried again on the next call. */
  #schema(): Promise<void> {
    this.#ready ??= this.#pool.run((sql) =>
      sql.begin(async (tx) => {
        // Two processes creating the tables at once would race on the catalog; a lock orders
        // them.
        await tx`SELECT pg_advisory_xact_lock(hashtext('crawler frontier schema'))`;
        await tx.unsafe(SCHEMA);
      })
    ).then(() => {}, (error) => {
      this.#ready = undefined;
      throw error;
    });
    return this.#ready;
  }

  claim(host: string, limits: HostLimits): Promise<ClaimResult> {
    return this.#update(
      host,
      (state, now) => claimSlot(state, limits, now, this.#policy, newSlotId(this.#owner)),
    );
  }

  release(
    host: string,
    slotId: string,
    outcome: HostOutcome,
    limits: HostLimits,
  ): Promise<HostSnapshot> {
    return this.#update(host, (state, now) => {
      releaseSlot(state, slotId, outcome, limits, now, this.#policy);
      return snapshotOf(state, now);
    });
  }

  async addDisallowed(host: string, count: number): Promise<void> {
    await this.#update(host, (state) => {
      state.disallowed += count;
    });
  }

  async releaseOwn(): Promise<number> {
    const owner = this.#owner;
    if (owner === undefined) return 0;
    await this.#schema();
    // Once, at start: a scan of the hosts with slots held, each changed by compare-and-set.
    const hosts = await this.#pool.run((sql) =>
      sql<{ host: string }[]>`
        SELECT host FROM crawler_hosts
        WHERE in_flight > 0 AND strpos(state, ${ownSlotMarker(owner)}) > 0`
    );
    let freed = 0;
    for (const { host } of hosts) {
      freed += await this.#update(host, (state) => dropOwnSlots(state, owner));
    }
    return freed;
  }

  async robots(host: string): Promise<RobotsRecord | undefined> {
    await this.#schema();
    const [row] = await this.#pool.run((sql) =>
      sql<
        { outcome: RobotsOutcome; text: string; fetched_at: string; expires_at: string }[]
      >`SELECT outcome, text, fetched_at, expires_at FROM crawler_robots WHERE host = ${host}`
    );
    return row && {
      outcome: row.outcome,
      text: row.text,
      fetchedAt: Number(row.fetched_at),
      expiresAt: Number(row.expires_at),
    };
  }

  async saveRobots(host: string, record: RobotsRecord): Promise<void> {
    await this.#schema();
    await this.#pool.run((sql) =>
      sql`
        INSERT INTO crawler_robots (host, outcome, text, fetched_at, expires_at)
        VALUES (${host}, ${record.outcome}, ${record.text}, ${record.fetchedAt},
          ${record.expiresAt})
        ON CONFLICT (host) DO UPDATE SET outcome = excluded.outcome, text = excluded.text,
          fetched_at = excluded.fetched_at, expires_at = excluded.expires_at`
    );
  }

  async snapshot(hosts?: readonly string[]): Promise<HostSnapshot[]> {
    await this.#schema();
    const rows = await this.#pool.run((sql) =>
      hosts
        ? sql<{ host: string; state: string }[]>`
          SELECT host, state FROM crawler_hosts WHERE host = ANY(${hosts as string[]})
          ORDER BY host`
        : sql<{ host: string; state: string }[]>`
          SELECT host, state FROM crawler_hosts ORDER BY host`
    );
    const now = await this.#clock();
    return rows.map((row) => snapshotOf(decodeHostState(row.host, row.state), now));
  }

  /** Epoch ms on the database's clock (or the test clock). */
  async #clock(): Promise<number> {
    if (this.#now) return this.#now();
    const [row] = await this.#pool.run((sql) =>
      sql<{ now: string }[]>`SELECT ${sql.unsafe(NOW)} AS now`
    );
    return Number(row.now);
  }

  async close(): Promise<void> {
    await this.#pool.close(5);
  }

  /**
   * Reads, changes and writes one host's state as a compare-and-set on its `version`, tried
   * again when another worker changed the row in between. Single statements, no transaction:
   * a connection lost mid-way leaves nothing open to roll back (postgres.js fails hard when it
   * has to write a ROLLBACK on a closed socket).
   */
  async #update<T>(host: string, change: (state: HostState, now: number) => T): Promise<T> {
    await this.#schema();
    return await this.#pool.run((sql) => this.#compareAndSet(sql, host, change));
  }

  async #compareAndSet<T>(
    sql: postgres.Sql,
    host: string,
    change: (state: HostState, now: number) => T,
  ): Promise<T> {
    for (let attempt = 0; attempt < 100; attempt++) {
      const [row] = await sql<{ state: string; version: string; now: string }[]>`
        SELECT state, version, ${sql.unsafe(NOW)} AS now FROM crawler_hosts WHERE host = ${host}`;
      if (!row) {
        const fresh = hostRow(newHostState(host));
        await sql`
          INSERT INTO crawler_hosts (host, due_at, in_flight, state, version)
          VALUES (${host}, ${fresh.dueAt}, ${fresh.inFlight}, ${fresh.state}, 0)
          ON CONFLICT (host) DO NOTHING`;
        continue;
      }
      const state = decodeHostState(host, row.state);
      const result = change(state, this.#now?.() ?? Number(row.now));
      const next = hostRow(state);
      const updated = await sql`
        UPDATE crawler_hosts SET due_at = ${next.dueAt}, in_flight = ${next.inFlight},
          state = ${next.state}, version = version + 1
        WHERE host = ${host} AND version = ${row.version}`;
      if (updated.count === 1) return result;
    }
    throw new Error(`host ${host}: its state kept changing under 100 tries`);
  }
}
