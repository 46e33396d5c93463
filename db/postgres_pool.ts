/**
 * @module
 * The Postgres connection pools a process owns — the frontier's, the results sink's, the host
 * store's — opened through one {@linkcode PostgresPools}, so that every one of them:
 *
 * - connects within a short timeout (2 s) and reconnects with a capped, jittered backoff (≤ 1 s;
 *   postgres.js's own grows to 20 s, and its connect timeout is 30 s), so work resumes about a
 *   second after the server accepts connections again;
 * - commits synchronously whatever the server's default (`synchronous_commit = on` for the
 *   session): what a statement of ours changed is durable once it returns;
 * - can be thrown away and opened afresh ({@linkcode PostgresPool.reset}): postgres.js 3.4 can
 *   leave a connection wedged after its server went away (a stale write timer keeps its startup
 *   message from ever being sent, porsager/postgres#1154), and can throw from a timer where no
 *   query sees it (the crash guard, `postgres_crash_guard.ts`, resets every pool then);
 * - reports an outage of its database once: one warning when the first query fails because the
 *   server is away, one line when a query works again, with the outage's length.
 */
import postgres from "postgres";
import { backoffMs } from "../async/backoff.ts";
import type { Logger } from "../log/logger.ts";
import { DatabaseUnavailableError } from "../errors/mod.ts";

/** Options for {@linkcode PostgresPools.open}. */
export interface PostgresPoolOptions {
  /** What the pool serves, for logs: "frontier", "results", "host state". */
  name: string;
  /** Connections at most. Default 4. */
  max?: number;
  /** How long opening a connection may take before it fails, seconds. Default 2. */
  connectTimeoutSeconds?: number;
  /**
   * Session settings sent when connecting (`application_name`…). `synchronous_commit` is always
   * `on`.
   */
  connection?: Record<string, string>;
}

/** Options for {@linkcode PostgresPools}. */
export interface PostgresPoolsOptions {
  /** Where outages and client failures are told. Default: nowhere. */
  logger?: Logger;
  /** Longest wait before reconnecting after a failed connection, ms. Default 1000. */
  maxBackoffMs?: number;
  /** The clock outages are measured by, ms. Default `performance.now`. */
  now?: () => number;
}

/** Error codes of postgres.js and of the network (not the server's SQLSTATEs). */
const CONNECTION_CODES = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_DESTROYED",
  "CONNECTION_ENDED",
  "CONNECT_TIMEOUT",
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTCONN",
  "EAI_AGAIN",
]);

/**
 * True when `error` says the server is away or not accepting work: the network, a connection
 * closed or timed out, the server shutting down, crashing, starting up or out of connections.
 * Such a failure passes by itself; the statement may be tried again.
 */
export function isPostgresUnavailable(error: unknown): boolean {
  if (error instanceof DatabaseUnavailableError) return true;
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== "string") return false;
  if (error.name === "PostgresError") {
    // Connection exceptions; admin or crash shutdown, cannot connect now; too many connections.
    return /^08/.test(code) || /^57P0[123]$/.test(code) || code === "53300";
  }
  return CONNECTION_CODES.has(code);
}

/** The database a URL names, for logs: `host:port/db`, no user or password. */
export function databaseOf(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || "5432"}${parsed.pathname}`;
  } catch {
    return "(unparsable URL)";
  }
}

/**
 * The process's Postgres pools: opens them with the settings above, resets them all when the
 * client failed outside a query, and logs each database's outages once.
 *
 * @example
 * ```ts
 * const pools = new PostgresPools({ logger });
 * const pool = pools.open("postgres://crawler@127.0.0.1/crawl", { name: "frontier" });
 * const rows = await pool.run((sql) => sql`select 1 as one`);
 * await pool.close();
 * ```
 */
export class PostgresPools {
  readonly #logger: Logger | undefined;
  readonly #maxBackoffMs: number;
  readonly #now: () => number;
  readonly #pools = new Set<PostgresPool>();
  /** Databases that are away: since when, and the pools whose last query failed for it. */
  readonly #down = new Map<string, Outage>();
  /** When each database's last outage ended (its pools all worked again). */
  readonly #backAt = new Map<string, number>();
  /** When the client last failed outside a query, until a query works again. */
  #failedAt: number | undefined;
  /** When every pool was last reset for a client failure. */
  #resetAt = -Infinity;
  #resetting: Promise<void> | undefined;

  /** A registry with no pools yet; `open` adds them. */
  constructor(options: PostgresPoolsOptions = {}) {
    this.#logger = options.logger;
    this.#maxBackoffMs = options.maxBackoffMs ?? 1000;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Opens a pool on `url` (connections are made on first use). */
  open(url: string, options: PostgresPoolOptions): PostgresPool {
    const pool = new PostgresPool(url, options, {
      backoffSeconds: (retries) => backoffSeconds(retries, this.#maxBackoffMs),
      succeeded: (p) => this.#succeeded(p),
      unavailable: (p, error) => this.#unavailable(p, error),
      closed: (p) => {
        this.#pools.delete(p);
        this.#succeeded(p, { log: false });
      },
    });
    this.#pools.add(pool);
    return pool;
  }

  /** The pools open now. */
  get size(): number {
    return this.#pools.size;
  }

  /** Drops and re-creates the connections of every open pool. */
  async resetAll(): Promise<void> {
    await Promise.all([...this.#pools].map((pool) => pool.reset()));
  }

  /**
   * The client threw outside any query (the crash guard caught it): logged once until a query
   * works again, and every pool is reset — at most once a second, since one failure of a pool
   * often comes with more from its other connections.
   */
  clientFailed(error: unknown): void {
    if (this.#failedAt === undefined) {
      this.#failedAt = this.#now();
      this.#logger?.warn(
        "the Postgres client failed outside any query; its connections are opened afresh",
        { error, at: whereThrown(error) },
      );
    }
    if (this.#resetting || this.#now() - this.#resetAt < 1000) return;
    this.#resetAt = this.#now();
    this.#resetting = this.resetAll().finally(() => this.#resetting = undefined);
  }

  /**
   * A query of `pool` worked. The database's outage ends once every pool that failed for it has
   * worked again (pools reconnect one after another, and one that has not yet may still fail)
   * and nothing failed for a moment (a crashing server's backends do not all go at once: one
   * may still answer just after another's connection broke).
   */
  #succeeded(pool: PostgresPool, options: { log: boolean } = { log: true }): void {
    const outage = this.#down.size > 0 ? this.#down.get(pool.database) : undefined;
    if (outage) outage.failing.delete(pool);
    if (
      outage && outage.failing.size === 0 && this.#now() - outage.failedAt >= QUIET_MS
    ) {
      this.#down.delete(pool.database);
      this.#backAt.set(pool.database, this.#now());
      if (outage.logged && options.log) {
        this.#logger?.info("Postgres is back", {
          database: pool.database,
          downMs: Math.round(this.#now() - outage.since),
        });
      }
    }
    if (this.#failedAt !== undefined && options.log) {
      this.#logger?.info("the Postgres client works again", {
        pool: pool.name,
        afterMs: Math.round(this.#now() - this.#failedAt),
      });
      this.#failedAt = undefined;
    }
  }

  /**
   * A query of `pool` failed for want of the server. Logged when the database's outage begins,
   * unless one ended moments ago: a server that has just come back can still refuse a
   * connection or two (starting up, a connection made before it was up), which is the same
   * outage's tail, not news.
   */
  #unavailable(pool: PostgresPool, error: unknown): void {
    const outage = this.#down.get(pool.database);
    if (outage) {
      outage.failing.add(pool);
      outage.failedAt = this.#now();
      return;
    }
    const settling = this.#now() - (this.#backAt.get(pool.database) ?? -Infinity) < SETTLE_MS;
    this.#down.set(pool.database, {
      since: this.#now(),
      failedAt: this.#now(),
      failing: new Set([pool]),
      logged: !settling,
    });
    if (settling) return;
    this.#logger?.warn("Postgres is unavailable; waiting for it", {
      database: pool.database,
      pool: pool.name,
      error,
    });
  }
}

/** A database that is away (see `PostgresPools`). */
interface Outage {
  since: number;
  /** When a query last failed for it. */
  failedAt: number;
  /** Pools whose last query failed for want of the server. */
  failing: Set<PostgresPool>;
  /** Whether its start was logged (then its end is too). */
  logged: boolean;
}

/** How long after an outage ended a new failure counts as its tail, ms. */
const SETTLE_MS = 5000;
/** How long without a failure before a query that works ends an outage, ms. */
const QUIET_MS = 500;

interface PoolHooks {
  backoffSeconds(retries: number): number;
  succeeded(pool: PostgresPool): void;
  unavailable(pool: PostgresPool, error: unknown): void;
  closed(pool: PostgresPool): void;
}

/**
 * One connection pool (see the module doc); opened by {@linkcode PostgresPools.open}. Run every
 * statement through {@linkcode PostgresPool.run}, which hands it the pool's current client.
 * Whoever opened it (a frontier, sink, host store or result reader) closes it with `close()`.
 */
export class PostgresPool {
  /** What the pool serves, for logs. */
  readonly name: string;
  /** `host:port/db`, for logs. */
  readonly database: string;
  readonly #url: string;
  readonly #options: postgres.Options<Record<string, never>>;
  readonly #hooks: PoolHooks;
  readonly #connectTimeoutMs: number;
  #sql: postgres.Sql;
  /** Bumped at every reset: a call that began on an older client may be tried once more. */
  #generation = 0;
  #resetAt = -Infinity;
  #closed = false;

  /** Not for direct use: {@linkcode PostgresPools.open} makes pools (and keeps track of them). */
  constructor(url: string, options: PostgresPoolOptions, hooks: PoolHooks) {
    this.name = options.name;
    this.database = databaseOf(url);
    this.#url = url;
    this.#hooks = hooks;
    const connectTimeout = options.connectTimeoutSeconds ?? 2;
    this.#connectTimeoutMs = connectTimeout * 1000;
    this.#options = {
      max: options.max ?? 4,
      connect_timeout: connectTimeout,
      backoff: hooks.backoffSeconds,
      onnotice: () => {},
      connection: { ...options.connection, synchronous_commit: "on" },
    };
    this.#sql = postgres(url, this.#options);
  }

  /** How many times the pool was reset. */
  get resets(): number {
    return this.#generation;
  }

  /**
   * Runs `work` on the pool's client. A call that fails because the pool was reset under it is
   * run once more on the new client; a failure for want of the server is reported (logged once
   * per outage) and thrown as a `DatabaseUnavailableError` (the client's error its cause). A
   * connection that timed out connecting may be one postgres.js left wedged, so the pool is
   * opened afresh then (at most once per connect timeout).
   */
  async run<T>(work: (sql: postgres.Sql) => Promise<T>): Promise<T> {
    for (let attempt = 0;; attempt++) {
      const generation = this.#generation;
      try {
        const result = await work(this.#sql);
        this.#hooks.succeeded(this);
        return result;
      } catch (error) {
        if (this.#closed || !isPostgresUnavailable(error)) throw error;
        if (generation !== this.#generation && attempt === 0) continue;
        this.#hooks.unavailable(this, error);
        if ((error as { code?: unknown }).code === "CONNECT_TIMEOUT") this.#resetSoon();
        throw error instanceof DatabaseUnavailableError
          ? error // from a call of this pool's nested in `work`
          : new DatabaseUnavailableError((error as Error).message, { cause: error });
      }
    }
  }

  /**
   * Drops every connection (queries on them fail with `CONNECTION_DESTROYED`) and opens a new
   * client for what comes next.
   */
  async reset(): Promise<void> {
    if (this.#closed) return;
    const old = this.#sql;
    this.#sql = postgres(this.#url, this.#options);
    this.#generation++;
    this.#resetAt = performance.now();
    await endQuietly(old, 0);
  }

  /** Closes the pool, waiting up to `timeoutSeconds` for queries in flight. Default 5. */
  async close(timeoutSeconds = 5): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#hooks.closed(this);
    await endQuietly(this.#sql, timeoutSeconds);
  }

  #resetSoon(): void {
    if (performance.now() - this.#resetAt < this.#connectTimeoutMs) return;
    this.reset().catch(() => {/* endQuietly does not reject */});
  }
}

/** Where `error` was thrown: the first frame of its stack, for the log. */
function whereThrown(error: unknown): string | undefined {
  const stack = (error as { stack?: unknown } | null)?.stack;
  if (typeof stack !== "string") return undefined;
  return stack.split("\n").find((line) => /^\s+at /.test(line))?.trim();
}

/** A wait before reconnecting, in seconds: doubling from 50 ms up to `maxMs`, jittered. */
function backoffSeconds(retries: number, maxMs: number): number {
  return backoffMs(retries, { initialMs: 50, maxMs }) / 1000;
}

/** Ends a client; a client whose connections are broken may throw doing so, which is moot. */
async function endQuietly(sql: postgres.Sql, timeoutSeconds: number): Promise<void> {
  try {
    await sql.end({ timeout: timeoutSeconds });
  } catch {
    // Its connections are gone either way.
  }
}
