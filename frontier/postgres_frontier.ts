/**
 * @module
 * The shared {@linkcode Frontier} on Postgres (`frontier.url = "postgres://…"`), for a task
 * crawled by workers on several machines. The layout is the SQLite frontier's (docs/frontier.md,
 * "The frontier"): a crawl's hosts with the time each is next ready, its requests
 * queued per host. A claim is one statement: it locks ready hosts `FOR UPDATE SKIP LOCKED`, takes
 * each one's first requests, leases them and moves the hosts' turns, so two claimers never get
 * one request and never wait on each other. Times are the server's clock, so the workers' clocks
 * do not matter. A recrawl task's page acknowledged with a revisit is queued again, due after its
 * interval, with its page record in the row's page columns (docs/frontier.md, "Recrawl").
 */
import type postgres from "postgres";
import { ServiceUnavailableError } from "../errors/mod.ts";
import type { CrawlRequest } from "./crawl_request.ts";
import {
  type BeginOptions,
  changedParts,
  type Claim,
  type ClaimOptions,
  type DoneOutcome,
  type DropOptions,
  emptyCounts,
  type Frontier,
  type FrontierCounts,
  type NewCrawlReason,
  type Opening,
  type Outcome,
  STATE_CODES,
} from "./frontier.ts";
import { urlKey } from "./url_key.ts";
import { keyHash } from "./key_hash.ts";
import { expandUrl, storedOrigin, urlParts } from "./_url_parts.ts";
import { HOSTS_TABLE_POSTGRES } from "./hosts_table.ts";
import { PAGE_COLUMNS, type PageColumns, pageRecordOf } from "./_page_columns.ts";
import { type PostgresPool, PostgresPools } from "../db/postgres_pool.ts";

/** Options for {@linkcode openPostgresFrontier}. */
export interface PostgresFrontierOptions {
  /** Connections in the pool. Default 4. */
  maxConnections?: number;
  /** How long opening a connection may take, seconds. Default 2. */
  connectTimeoutSeconds?: number;
  /**
   * The process's pools, which reset this one when the client fails and log outages once.
   * Default: a registry of its own, logging nothing.
   */
  pools?: PostgresPools;
}

type Sql = postgres.Sql;
type Tx = postgres.TransactionSql;
type Param = string | number | boolean | null | Array<string | number | boolean | null>;

const { queued: QUEUED, leased: LEASED, done: DONE, failed: FAILED } = STATE_CODES;
/** The server's clock in ms: one clock for every worker's leases. */
const NOW = "(extract(epoch from clock_timestamp()) * 1000)::bigint";
/** Expired leases are looked for at most this often per task and process, ms. */
const EXPIRY_EVERY_MS = 250;
/**
 * When the server (re)started, ms on its clock. No lease expires within its own length
 * (`lease_ms`) of that: its holder could not renew it while the server was down, and gets that
 * long to do so now — the time the server was away does not count against a lease.
 */
const STARTED = "(extract(epoch from pg_postmaster_start_time()) * 1000)::bigint";
/** A row no longer leased (its lease's columns cleared). */
const UNLEASED = "owner = NULL, lease_until = NULL, lease_ms = NULL";
/** When a leased row's lease ends, on the server's clock (see `STARTED`). */
const LEASE_END = `greatest(lease_until, ${STARTED} + coalesce(lease_ms, 0))`;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS frontier_tasks (
  id bigserial PRIMARY KEY,
  task text NOT NULL UNIQUE,
  crawl text NOT NULL,
  reload boolean NOT NULL,
  started_at bigint NOT NULL,
  definition text
);
CREATE TABLE IF NOT EXISTS frontier_hosts (
  id bigserial PRIMARY KEY,
  crawl bigint NOT NULL,
  host text NOT NULL,
  origin text NOT NULL,
  active boolean NOT NULL,
  high boolean NOT NULL,
  ready_at bigint NOT NULL,
  turn bigint NOT NULL DEFAULT 0,
  UNIQUE (crawl, host)
);
CREATE INDEX IF NOT EXISTS frontier_hosts_ready
  ON frontier_hosts (crawl, high, ready_at, turn) WHERE active;
CREATE SEQUENCE IF NOT EXISTS frontier_turns;
CREATE TABLE IF NOT EXISTS frontier_urls (
  id bigserial PRIMARY KEY,
  crawl bigint NOT NULL,
  host bigint NOT NULL,
  key bigint,
  url text NOT NULL,
  state smallint NOT NULL,
  high boolean NOT NULL,
  due_at bigint NOT NULL DEFAULT 0,
  generation integer NOT NULL DEFAULT 0,
  attempts integer NOT NULL DEFAULT 0,
  depth integer NOT NULL,
  priority integer NOT NULL,
  rule text NOT NULL,
  method text,
  tmp jsonb,
  owner text,
  lease_until bigint,
  lease_ms integer,
  error text,
  fetched_at bigint,
  etag text,
  modified text,
  hash text,
  interval_ms bigint
);
CREATE UNIQUE INDEX IF NOT EXISTS frontier_urls_key ON frontier_urls (crawl, key);
CREATE INDEX IF NOT EXISTS frontier_urls_queue
  ON frontier_urls (host, high DESC, id) WHERE state = ${QUEUED};
CREATE INDEX IF NOT EXISTS frontier_urls_leases
  ON frontier_urls (crawl, lease_until) WHERE state = ${LEASED};
CREATE INDEX IF NOT EXISTS frontier_urls_state ON frontier_urls (crawl, state);
DO $$ BEGIN
  -- Added after the layout: a frontier made before gets it (without locking the table when
  -- it is there, as every worker opening the frontier runs this).
  IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'frontier_urls'::regclass
                 AND attname = 'lease_ms' AND NOT attisdropped) THEN
    ALTER TABLE frontier_urls ADD COLUMN lease_ms integer;
  END IF;
  -- A page's record for its revisit (docs/frontier.md, "Recrawl"), likewise.
  IF (SELECT count(*) FROM pg_attribute WHERE attrelid = 'frontier_urls'::regclass
      AND attname IN ('fetched_at', 'etag', 'modified', 'hash', 'interval_ms')
      AND NOT attisdropped) < 5 THEN
    ALTER TABLE frontier_urls ADD COLUMN IF NOT EXISTS fetched_at bigint,
      ADD COLUMN IF NOT EXISTS etag text, ADD COLUMN IF NOT EXISTS modified text,
      ADD COLUMN IF NOT EXISTS hash text, ADD COLUMN IF NOT EXISTS interval_ms bigint;
  END IF;
END $$;
`;

/** Postgres errors worth trying the transaction again for: deadlock, serialization. */
const RETRIABLE_CODES = new Set(["40P01", "40001"]);

/**
 * Connects to `url`, creates the tables if missing and returns the frontier. Throws
 * `ServiceUnavailableError` (key `frontier.url`) when the server cannot be reached.
 */
export async function openPostgresFrontier(
  url: string,
  options: PostgresFrontierOptions = {},
): Promise<PostgresFrontier> {
  const pool = (options.pools ?? new PostgresPools()).open(url, {
    name: "frontier",
    max: options.maxConnections ?? 4,
    connectTimeoutSeconds: options.connectTimeoutSeconds,
  });
  try {
    for (let attempt = 1;; attempt++) {
      try {
        await pool.run((sql) =>
          sql.begin(async (tx) => {
            // Two workers starting at once would race on CREATE TABLE IF NOT EXISTS.
            await tx.unsafe("SELECT pg_advisory_xact_lock(hashtext('crawler frontier schema'))");
            await tx.unsafe(SCHEMA + HOSTS_TABLE_POSTGRES + CLAIM_FUNCTION);
          })
        );
        break;
      } catch (error) {
        // `CREATE INDEX IF NOT EXISTS` locks its table even when the index is there, and can
        // deadlock with another worker's first writes: Postgres undoes one; do it again.
        const code = (error as { code?: string }).code;
        if (!code || !RETRIABLE_CODES.has(code) || attempt >= 5) throw error;
      }
    }
  } catch (error) {
    await pool.close(1);
    throw new ServiceUnavailableError(
      "frontier.url",
      `cannot open the frontier at ${redact(url)}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  return new PostgresFrontier(pool);
}

interface ClaimRow extends PageColumns {
  id: number | string;
  host: number | string;
  generation: number;
  url: string;
  method: string | null;
  depth: number;
  priority: number;
  rule: string;
  tmp: Record<string, unknown> | null;
  attempts: number;
  high: boolean;
  origin: string;
  crawl: string;
}

/** What `frontier_claim` answers: the task's crawl and the rows it leased (null: none). */
interface ClaimAnswer {
  crawl: string | null;
  rows: Array<Omit<ClaimRow, "crawl">> | null;
}

interface TaskRow {
  id: string;
  crawl: string;
  reload: boolean;
  started_at: string;
  definition: string | null;
}

/** The hosts of `leased` rows go back to the ready ones (a hold ends), marked as having some. */
const ACTIVATE = `
  UPDATE frontier_hosts h SET active = true, high = h.high OR a.high,
    ready_at = CASE WHEN $2::int = 1 THEN least(h.ready_at, ${NOW}) ELSE h.ready_at END
  FROM (SELECT host, bool_or(high <> 0) AS high FROM unnest($1::bigint[], $3::int[]) AS r(host, high)
        GROUP BY host) a
  WHERE h.id = a.host`;

/** A host a claim looked at, as a query over `frontier_hosts h` (high or other hosts). */
function claimHosts(high: boolean): string {
  return `
    SELECT h.id, CASE WHEN h.origin = '' THEN h.host ELSE h.origin END AS origin, h.ready_at,
      h.turn, CASE WHEN p_skip THEN (SELECT p.due_at FROM crawler_hosts p WHERE p.host = h.host)
        END AS polite_at
    FROM frontier_hosts h
    WHERE h.crawl = (SELECT id FROM task) AND h.active AND h.high = ${high}
      AND h.ready_at <= v_now
    ORDER BY h.ready_at, h.turn, h.id
    LIMIT ${high ? "p_limit" : "greatest(0, p_limit - (SELECT count(*) FROM high_hosts))"}
    FOR UPDATE OF h SKIP LOCKED`;
}

/**
 * The claim, one call: `frontier_claim(task, limit, per_host, owner, lease_ms, hold_ms, skip)`
 * answers `{crawl, rows}` (see `ClaimAnswer`).
 *
 * First it locks up to `limit` ready hosts of the task (high-priority ones first, then by ready
 * time and turn, skipping hosts another claim holds) and leases up to `per_host` due requests of
 * each, `limit` in all. `skip` leaves out hosts the politeness host table says are not due (the
 * claim before hosts had turns, kept for the bench's "before" figure).
 *
 * Then it settles the hosts it locked, in a second statement: a plpgsql statement takes a new
 * snapshot, taken once the locks are held. Settled in the first statement, a host could be
 * marked empty from a snapshot older than an ack that queued children on it and committed just
 * before the lock was taken: a host with queued requests no claim would look at again. A host
 * served takes a new turn and waits `hold_ms`; one politeness says is not due waits for it; the
 * others are ready when their first queued request is due, and leave the ready hosts when none
 * is queued.
 *
 * A function rather than a transaction of two statements: one round trip instead of four
 * (BEGIN, claim, settle, COMMIT), which under four claimers on two cores is most of a claim.
 */
const CLAIM_FUNCTION = `
CREATE OR REPLACE FUNCTION frontier_claim(p_task text, p_limit integer, p_per_host integer,
  p_owner text, p_lease_ms integer, p_hold_ms bigint, p_skip boolean)
RETURNS json LANGUAGE plpgsql VOLATILE AS $claim$
DECLARE
  v_crawl text;
  v_rows json;
  v_ids bigint[];
  v_polite bigint[];
  v_served int[];
  -- The claim's one time: a variable is a parameter of its statements, so ready_at <= v_now
  -- bounds the scan of the ready hosts' index; clock_timestamp() in its place would be
  -- checked on every host of the index, due or not (a claim of more hosts than are ready
  -- read every host not due).
  v_now bigint := ${NOW};
BEGIN
  WITH task AS (SELECT id, crawl FROM frontier_tasks WHERE task = p_task),
  high_hosts AS (${claimHosts(true)}),
  other_hosts AS (${claimHosts(false)}),
  hosts AS (
    SELECT *, 0 AS pass FROM high_hosts UNION ALL SELECT *, 1 AS pass FROM other_hosts),
  open AS (SELECT * FROM hosts WHERE polite_at IS NULL OR polite_at <= v_now),
  picked AS (
    SELECT u.id, open.origin FROM open CROSS JOIN LATERAL (
      SELECT id FROM frontier_urls
      WHERE host = open.id AND state = ${QUEUED} AND due_at <= v_now
      ORDER BY high DESC, id LIMIT p_per_host
      FOR UPDATE SKIP LOCKED) u
    ORDER BY open.pass, open.ready_at, open.turn, open.id
    LIMIT p_limit),
  leased AS (
    UPDATE frontier_urls f
    SET state = ${LEASED}, generation = f.generation + 1, owner = p_owner,
      lease_until = v_now + p_lease_ms, lease_ms = p_lease_ms
    FROM picked WHERE f.id = picked.id
    RETURNING f.id, f.host, f.generation, f.url, f.method, f.depth, f.priority, f.rule, f.tmp,
      f.attempts, f.high, ${PAGE_COLUMNS.map((c) => `f.${c}`).join(", ")}, picked.origin)
  SELECT (SELECT crawl FROM task), (SELECT json_agg(leased) FROM leased),
    array_agg(hosts.id), array_agg(hosts.polite_at),
    array_agg(CASE WHEN served.host IS NULL THEN 0 ELSE 1 END)
  INTO v_crawl, v_rows, v_ids, v_polite, v_served
  FROM hosts LEFT JOIN (SELECT DISTINCT host FROM leased) served ON served.host = hosts.id;
  IF v_ids IS NOT NULL THEN
    UPDATE frontier_hosts h SET
      turn = CASE WHEN s.served = 1 THEN nextval('frontier_turns') ELSE h.turn END,
      ready_at = CASE
        WHEN s.served = 1 THEN v_now + p_hold_ms
        WHEN s.polite_at > v_now THEN s.polite_at
        ELSE coalesce((SELECT min(u.due_at) FROM frontier_urls u
                       WHERE u.host = h.id AND u.state = ${QUEUED}), h.ready_at) END,
      active = s.served = 1 OR EXISTS (
        SELECT 1 FROM frontier_urls u WHERE u.host = h.id AND u.state = ${QUEUED}),
      high = h.high AND EXISTS (
        SELECT 1 FROM frontier_urls u WHERE u.host = h.id AND u.state = ${QUEUED} AND u.high)
    FROM unnest(v_ids, v_polite, v_served) AS s(id, polite_at, served)
    WHERE h.id = s.id;
  END IF;
  RETURN json_build_object('crawl', v_crawl, 'rows', v_rows);
END $claim$;
`;

/**
 * Requeues a task's requests whose leases ended (their holders died or stalled) and makes their
 * hosts ready: the two updates in one statement. The time is read once (a subquery, a parameter
 * of the scan) so that it bounds the scan of the leases' index instead of being checked on every
 * lease.
 */
const EXPIRE = `
  WITH expired AS (
    UPDATE frontier_urls SET state = ${QUEUED}, ${UNLEASED}
    WHERE id IN (
      SELECT id FROM frontier_urls
      WHERE crawl = (SELECT id FROM frontier_tasks WHERE task = $1)
        AND state = ${LEASED} AND lease_until < (SELECT ${NOW}) AND ${LEASE_END} < ${NOW}
      FOR UPDATE SKIP LOCKED)
    RETURNING host, high)
  UPDATE frontier_hosts h SET active = true, high = h.high OR a.high,
    ready_at = least(h.ready_at, ${NOW})
  FROM (SELECT host, bool_or(high) AS high FROM expired GROUP BY host) a
  WHERE h.id = a.host`;

export class PostgresFrontier implements Frontier {
  readonly #pool: PostgresPool;
  /** When each task's expired leases were last looked for (performance.now() ms). */
  readonly #expiredAt = new Map<string, number>();

  constructor(pool: PostgresPool) {
    this.#pool = pool;
  }

  begin(task: string, options: BeginOptions): Promise<Opening> {
    return this.#transaction(async (tx): Promise<Opening> => {
      // One begin per task at a time: two workers starting together start one crawl.
      await tx.unsafe("SELECT pg_advisory_xact_lock(hashtext($1))", [taskLock(task)]);
      const current = await taskOf(tx, task, "FOR UPDATE");
      let reason: NewCrawlReason | undefined;
      if (!current) reason = "first";
      else if (options.fresh) reason = "fresh";
      else if (options.crawl !== undefined && options.crawl !== current.crawl) reason = "replaced";
      else if (
        options.definition !== undefined && current.definition !== null &&
        options.definition !== current.definition
      ) reason = "changed";
      else if (options.crawl === undefined && !(await isActive(tx, current.id))) {
        reason = "finished";
      }
      const reload = options.reload ?? false;
      if (reason === undefined) {
        const id = current!.id;
        await tx.unsafe(
          `UPDATE frontier_tasks SET reload = $2, definition = coalesce($3, definition)
           WHERE id = $1`,
          [id, reload, options.definition ?? null],
        );
        if (options.owner !== undefined) {
          const rows = await tx.unsafe<Array<{ host: string; high: boolean }>>(
            `UPDATE frontier_urls SET state = ${QUEUED}, ${UNLEASED}
             WHERE crawl = $1 AND state = ${LEASED} AND owner = $2 RETURNING host, high`,
            [id, options.owner],
          );
          await activate(tx, rows, true);
        }
        return {
          mode: "resumed",
          crawl: current!.crawl,
          startedAt: Number(current!.started_at),
          counts: await countsOf(tx, id),
        };
      }
      if (current) await deleteCrawl(tx, current.id);
      const crawl = options.crawl ?? crypto.randomUUID();
      const startedAt = Date.now();
      const [row] = await tx.unsafe<Array<{ id: string }>>(
        `INSERT INTO frontier_tasks (task, crawl, reload, started_at, definition)
         VALUES ($1, $2, $3, $4, $5) RETURNING id`,
        [task, crawl, reload, startedAt, options.definition ?? null],
      );
      await insert(tx, row.id, reload, options.roots);
      return {
        mode: "new",
        reason,
        ...(reason === "changed"
          ? { changed: changedParts(current!.definition!, options.definition!) }
          : {}),
        crawl,
        startedAt,
        counts: await countsOf(tx, row.id),
      };
    });
  }

  add(task: string, requests: readonly CrawlRequest[]): Promise<number> {
    return this.#transaction(async (tx) => {
      const current = await taskOf(tx, task, "shared");
      if (!current) throw new Error(`task "${task}" has no crawl: begin it first`);
      return await insert(tx, current.id, current.reload, requests);
    });
  }

  async claim(task: string, options: ClaimOptions): Promise<Claim[]> {
    const leaseMs = Math.round(options.leaseMs);
    return await this.#retrying(async (sql) => {
      const expiredAt = this.#expiredAt.get(task) ?? -Infinity;
      if (performance.now() - expiredAt >= EXPIRY_EVERY_MS) {
        this.#expiredAt.set(task, performance.now());
        if (this.#expiredAt.size > 1000) this.#expiredAt.clear();
        // One statement (no transaction's round trips): it runs beside every few claims.
        await sql.unsafe(EXPIRE, [task], { prepare: true });
      }
      // One round trip: the claim and the settling of its hosts run in one function call
      // (CLAIM_FUNCTION), a transaction of its own.
      const [{ claim }] = await sql.unsafe<Array<{ claim: ClaimAnswer }>>(
        "SELECT frontier_claim($1, $2, $3, $4, $5, $6, $7) AS claim",
        [
          task,
          options.limit,
          Math.max(1, options.perHost ?? options.limit),
          options.owner,
          leaseMs,
          Math.max(0, Math.round(options.hostHoldMs ?? 0)),
          options.skipHostsNotDue === true,
        ] as unknown as Param[],
        { prepare: true },
      );
      const crawl = claim.crawl;
      if (crawl === null || claim.rows === null) return [];
      const rows = claim.rows;
      rows.sort((a, b) => Number(b.high) - Number(a.high) || Number(a.id) - Number(b.id));
      return rows.map((row) => toClaim(task, { ...row, crawl }));
    });
  }

  complete(outcomes: readonly Outcome[]): Promise<boolean[]> {
    if (outcomes.length === 0) return Promise.resolve([]);
    return this.#transaction(async (tx) => {
      const names = [...new Set(outcomes.map((o) => o.claim.task))].sort();
      const tasks = new Map<string, TaskRow>();
      for (const name of names) {
        // Shared: a begin or drop of the task waits until these acks are in.
        const current = await taskOf(tx, name, "shared");
        if (current) tasks.set(name, current);
      }
      const current = (o: Outcome) => tasks.get(o.claim.task)?.crawl === o.claim.crawl;
      const done = outcomes.filter((o): o is DoneOutcome => o.kind === "done" && current(o));
      /** Claim id → the host of its request, for the claims that counted. */
      const counted = new Map<number, string>();
      /** Rows queued again (retries, revisits): their hosts are active again. */
      const requeued: Array<{ host: string; high: boolean }> = [];
      const finals = done.filter((o) => o.revisit === undefined);
      if (finals.length > 0) {
        const rows = await tx.unsafe<Array<{ id: string; host: string }>>(
          `UPDATE frontier_urls f SET state = ${DONE}, ${UNLEASED}
           FROM unnest($1::bigint[], $2::integer[]) AS c(id, generation)
           WHERE f.id = c.id AND f.generation = c.generation AND f.state = ${LEASED}
           RETURNING f.id, f.host`,
          [finals.map((o) => o.claim.id), finals.map((o) => o.claim.generation)],
          { prepare: true },
        );
        for (const row of rows) counted.set(Number(row.id), row.host);
      }
      // Pages of a recrawl task: queued again for their next visit, with what this one left.
      const revisits = done.filter((o) => o.revisit !== undefined);
      if (revisits.length > 0) {
        const pages = revisits.map((o) => o.revisit!);
        const rows = await tx.unsafe<Array<{ id: string; host: string; high: boolean }>>(
          `UPDATE frontier_urls f SET state = ${QUEUED}, ${UNLEASED}, attempts = 0, error = NULL,
             due_at = ${NOW} + c.interval_ms, fetched_at = c.fetched_at, etag = c.etag,
             modified = c.modified, hash = c.hash, interval_ms = c.interval_ms
           FROM unnest($1::bigint[], $2::integer[], $3::bigint[], $4::bigint[], $5::text[],
             $6::text[], $7::text[]) AS c(id, generation, fetched_at, interval_ms, etag, modified,
             hash)
           WHERE f.id = c.id AND f.generation = c.generation AND f.state = ${LEASED}
           RETURNING f.id, f.host, f.high`,
          [
            revisits.map((o) => o.claim.id),
            revisits.map((o) => o.claim.generation),
            pages.map((p) => Math.round(p.fetchedAt)),
            pages.map((p) => Math.round(p.intervalMs)),
            pages.map((p) => p.etag ?? null),
            pages.map((p) => p.lastModified ?? null),
            pages.map((p) => p.hash ?? null),
          ] as unknown as Param[],
          { prepare: true },
        );
        for (const row of rows) {
          counted.set(Number(row.id), row.host);
          requeued.push(row);
        }
      }
      for (const outcome of outcomes) {
        if (outcome.kind !== "failed" || !current(outcome)) continue;
        const { claim } = outcome;
        const uncounted = outcome.counted === false;
        const retry = uncounted || claim.request.attempt + 1 <= outcome.retries;
        // A recrawl task's request failed for good is tried again at its next visit, afresh; it
        // counts as visited now (scheduled, with the validators it had).
        const revisit = !retry && outcome.revisitAfterMs !== undefined;
        const rows = await tx.unsafe<Array<{ host: string; high: boolean }>>(
          `UPDATE frontier_urls SET state = $1,
             attempts = CASE WHEN $7::boolean THEN 0 ELSE attempts + $6 END,
             fetched_at = CASE WHEN $7::boolean THEN ${NOW} ELSE fetched_at END,
             interval_ms = CASE WHEN $7::boolean THEN $2 ELSE interval_ms END,
             due_at = ${NOW} + $2, error = $3, ${UNLEASED}
           WHERE id = $4 AND generation = $5 AND state = ${LEASED}
           RETURNING host, high`,
          [
            retry || revisit ? QUEUED : FAILED,
            Math.round((revisit ? outcome.revisitAfterMs : outcome.retryDelayMs) ?? 0),
            outcome.error,
            claim.id,
            claim.generation,
            uncounted ? 0 : 1,
            revisit,
          ],
          { prepare: true },
        );
        if (rows.length > 0) {
          counted.set(claim.id, rows[0].host);
          if (retry || revisit) requeued.push(rows[0]);
        }
      }
      await activate(tx, requeued, false);
      // The hosts' next turns, as the outcomes tell (the latest word per host wins); without
      // word from politeness a hold ends now.
      const waits = new Map<string, number>();
      for (const outcome of outcomes) {
        const host = counted.get(outcome.claim.id);
        if (host !== undefined && current(outcome)) {
          waits.set(host, Math.round(outcome.hostWaitMs ?? -1));
        }
      }
      if (waits.size > 0) {
        await tx.unsafe(
          `UPDATE frontier_hosts h SET ready_at = CASE WHEN w.wait < 0
             THEN least(h.ready_at, ${NOW}) ELSE ${NOW} + w.wait END
           FROM unnest($1::bigint[], $2::bigint[]) AS w(host, wait) WHERE h.id = w.host`,
          [[...waits.keys()], [...waits.values()]],
          { prepare: true },
        );
      }
      for (const name of names) {
        const task = tasks.get(name);
        if (!task) continue;
        const children = done
          .filter((o) => o.claim.task === name && (counted.has(o.claim.id) || !task.reload))
          .flatMap((o) => o.children);
        await insert(tx, task.id, task.reload, children);
      }
      return outcomes.map((o) => current(o) && counted.has(o.claim.id));
    });
  }

  async extend(claims: readonly Claim[], leaseMs: number): Promise<void> {
    if (claims.length === 0) return;
    await this.#retrying((sql) =>
      sql.unsafe(
        `UPDATE frontier_urls f SET lease_until = ${NOW} + $3, lease_ms = $3
         FROM unnest($1::bigint[], $2::integer[]) AS c(id, generation)
         WHERE f.id = c.id AND f.generation = c.generation AND f.state = ${LEASED}`,
        [claims.map((c) => c.id), claims.map((c) => c.generation), Math.round(leaseMs)],
        { prepare: true },
      )
    );
  }

  async release(claims: readonly Claim[]): Promise<void> {
    if (claims.length === 0) return;
    await this.#transaction(async (tx) => {
      const rows = await tx.unsafe<Array<{ host: string; high: boolean }>>(
        `UPDATE frontier_urls f SET state = ${QUEUED}, ${UNLEASED}
         FROM unnest($1::bigint[], $2::integer[]) AS c(id, generation)
         WHERE f.id = c.id AND f.generation = c.generation AND f.state = ${LEASED}
         RETURNING f.host, f.high`,
        [claims.map((c) => c.id), claims.map((c) => c.generation)],
      );
      await activate(tx, rows, true);
    });
  }

  nextDue(task: string): Promise<number | undefined> {
    return this.#retrying(async (sql) => {
      const [row] = await sql.unsafe<Array<{ next: string | null }>>(
        `WITH task AS (SELECT id FROM frontier_tasks WHERE task = $1)
         SELECT least(
           (SELECT min(ready_at) FROM frontier_hosts
            WHERE crawl = (SELECT id FROM task) AND active AND high),
           (SELECT min(ready_at) FROM frontier_hosts
            WHERE crawl = (SELECT id FROM task) AND active AND NOT high),
           (SELECT min(${LEASE_END}) FROM frontier_urls
            WHERE crawl = (SELECT id FROM task) AND state = ${LEASED})
         ) - ${NOW} AS next`,
        [task],
      );
      return row?.next === null || row?.next === undefined
        ? undefined
        : Math.max(0, Number(row.next));
    });
  }

  counts(task: string): Promise<FrontierCounts> {
    return this.#retrying(async (sql) => {
      const current = await taskOf(sql, task);
      return current ? await countsOf(sql, current.id) : emptyCounts();
    });
  }

  finished(task: string, options: { once?: boolean } = {}): Promise<boolean> {
    return this.#retrying(async (sql) => {
      const current = await taskOf(sql, task);
      return !current || !(await isActive(sql, current.id, options.once === true));
    });
  }

  drop(task: string, options: DropOptions = {}): Promise<void> {
    return this.#transaction(async (tx) => {
      await tx.unsafe("SELECT pg_advisory_xact_lock(hashtext($1))", [taskLock(task)]);
      const current = await taskOf(tx, task, "FOR UPDATE");
      if (!current || (options.crawl !== undefined && options.crawl !== current.crawl)) return;
      await deleteCrawl(tx, current.id);
    });
  }

  async close(): Promise<void> {
    await this.#pool.close(5);
  }

  /**
   * Runs `body` in a transaction that commits durably whatever the server's default: what an
   * acknowledgement adds must not vanish in a crash after the engine counted it. (The pool's
   * sessions commit synchronously too; this holds even behind a pooler that drops that setting.)
   */
  #transaction<T>(body: (tx: Tx) => Promise<T>): Promise<T> {
    return this.#retrying((sql) =>
      sql.begin(async (tx) => {
        await tx.unsafe("SET LOCAL synchronous_commit = on");
        return await body(tx);
      }) as Promise<T>
    );
  }

  /**
   * Runs `work` on the pool's client, again after a deadlock or serialization failure (Postgres
   * undid it).
   */
  async #retrying<T>(work: (sql: Sql) => Promise<T>): Promise<T> {
    for (let attempt = 1;; attempt++) {
      try {
        return await this.#pool.run(work);
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (!code || !RETRIABLE_CODES.has(code) || attempt >= 5) throw error;
      }
    }
  }
}

/** The advisory lock of a task's begin and drop (exclusive) and of its writes (shared). */
const taskLock = (task: string) => `frontier task ${task}`;

/**
 * The task's row. `FOR UPDATE` locks it; `shared` takes the task's lock shared, so a begin or
 * drop (which take it exclusive) waits until this transaction is over — in the lock manager, not
 * as a row lock: many writers sharing one row lock would each create a MultiXact.
 */
async function taskOf(
  tx: Sql | Tx,
  task: string,
  lock: "FOR UPDATE" | "shared" | "" = "",
): Promise<TaskRow | undefined> {
  if (lock === "shared") {
    const rows = await tx.unsafe<Array<TaskRow | { id: null }>>(
      `SELECT t.id, t.crawl, t.reload, t.started_at, t.definition
       FROM (SELECT pg_advisory_xact_lock_shared(hashtext($2))) l
       LEFT JOIN frontier_tasks t ON t.task = $1`,
      [task, taskLock(task)],
      { prepare: true },
    );
    return rows[0]?.id === null ? undefined : rows[0] as TaskRow | undefined;
  }
  const rows = await tx.unsafe<TaskRow[]>(
    `SELECT id, crawl, reload, started_at, definition FROM frontier_tasks WHERE task = $1 ${lock}`,
    [task],
    { prepare: true },
  );
  return rows[0];
}

async function deleteCrawl(tx: Tx, crawl: string): Promise<void> {
  await tx.unsafe("DELETE FROM frontier_urls WHERE crawl = $1", [crawl]);
  await tx.unsafe("DELETE FROM frontier_hosts WHERE crawl = $1", [crawl]);
  await tx.unsafe("DELETE FROM frontier_tasks WHERE id = $1", [crawl]);
}

/** Marks hosts that got queued requests as having some; `endHold` also makes them ready now. */
async function activate(
  tx: Tx,
  rows: ReadonlyArray<{ host: string; high: boolean }>,
  endHold: boolean,
): Promise<void> {
  if (rows.length === 0) return;
  await tx.unsafe(ACTIVATE, [
    rows.map((r) => r.host),
    endHold ? 1 : 0,
    rows.map((r) => r.high ? 1 : 0),
  ], { prepare: true });
}

/**
 * Whether the crawl has requests queued or leased. `once` leaves out revisits not due yet (pages
 * fetched before, queued for a later visit): a recrawl task run once ends without them.
 */
async function isActive(tx: Sql | Tx, crawl: string, once = false): Promise<boolean> {
  const rows = await tx.unsafe(
    once
      ? `SELECT 1 FROM frontier_urls WHERE crawl = $1 AND (state = ${LEASED} OR (state = ${QUEUED}
           AND (fetched_at IS NULL OR due_at <= ${NOW}))) LIMIT 1`
      : `SELECT 1 FROM frontier_urls WHERE crawl = $1 AND state IN (${QUEUED}, ${LEASED}) LIMIT 1`,
    [crawl],
  );
  return rows.length > 0;
}

async function countsOf(tx: Sql | Tx, crawl: string): Promise<FrontierCounts> {
  const rows = await tx.unsafe<Array<Record<keyof FrontierCounts | "next", string | null>>>(
    `SELECT
       count(*) FILTER (WHERE (state = ${QUEUED} AND fetched_at IS NULL)
         OR (state = ${LEASED} AND ${LEASE_END} < ${NOW})) AS queued,
       count(*) FILTER (WHERE state = ${LEASED} AND ${LEASE_END} >= ${NOW}) AS leased,
       count(*) FILTER (WHERE state = ${DONE}) AS done,
       count(*) FILTER (WHERE state = ${FAILED}) AS failed,
       count(*) FILTER (WHERE state = ${QUEUED} AND fetched_at IS NOT NULL) AS scheduled,
       count(*) FILTER (WHERE state = ${QUEUED} AND fetched_at IS NOT NULL
         AND due_at <= ${NOW}) AS due,
       min(due_at) FILTER (WHERE state = ${QUEUED} AND fetched_at IS NOT NULL
         AND due_at > ${NOW}) - ${NOW} AS next
     FROM frontier_urls WHERE crawl = $1`,
    [crawl],
  );
  const counts = emptyCounts();
  for (const key of Object.keys(counts) as Array<keyof FrontierCounts>) {
    counts[key] = Number(rows[0]?.[key] ?? 0);
  }
  const next = rows[0]?.next;
  if (next !== null && next !== undefined) counts.nextRevisitMs = Number(next);
  return counts;
}

/** Inserts requests, skipping known keys; resolves with how many were new. */
async function insert(
  tx: Tx,
  crawl: string,
  reload: boolean,
  requests: readonly CrawlRequest[],
): Promise<number> {
  if (requests.length === 0) return 0;
  const parts = requests.map((req) => urlParts(req.url));
  // The crawl's hosts first, in one order for every transaction (two inserting the same new
  // hosts in opposite orders would deadlock); DO UPDATE so an existing row is returned too.
  const origins = new Map<string, string>();
  for (const p of parts) if (!origins.has(p.host)) origins.set(p.host, p.origin);
  const names = [...origins.keys()].sort();
  const hostRows = await tx.unsafe<Array<{ id: string; host: string; origin: string }>>(
    `INSERT INTO frontier_hosts (crawl, host, origin, active, high, ready_at)
     SELECT $1, h, o, false, false, 0 FROM unnest($2::text[], $3::text[]) AS x(h, o)
     ORDER BY h
     ON CONFLICT (crawl, host) DO UPDATE SET host = excluded.host
     RETURNING id, host, CASE WHEN origin = '' THEN host ELSE origin END AS origin`,
    [crawl, names, names.map((n) => storedOrigin({ host: n, origin: origins.get(n)! }))],
    { prepare: true },
  );
  const hosts = new Map(hostRows.map((row) => [row.host, row]));
  // In the order found, so each host's queue stays first in, first out. Two workers inserting
  // one new URL pair in opposite orders can deadlock; Postgres then undoes one and it is retried.
  const rows = requests.map((req, i) => {
    const host = hosts.get(parts[i].host)!;
    const origin = host.origin;
    const url = origin !== "" && req.url.startsWith(origin) && req.url[origin.length] === "/"
      ? req.url.slice(origin.length)
      : req.url;
    return { req, host: host.id, url, key: reload ? null : keyHash(urlKey(req.url, req.method)) };
  });
  const column = <T extends Param>(f: (row: (typeof rows)[number]) => T) => rows.map(f);
  const [result] = await tx.unsafe<Array<{ n: number }>>(
    `WITH ins AS (
       INSERT INTO frontier_urls
         (crawl, host, key, url, state, high, depth, priority, rule, method, tmp)
       SELECT $1, hs, k, u, ${QUEUED}, p > 0, d, p, r, m, t::jsonb
       FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::integer[], $6::integer[],
         $7::text[], $8::text[], $9::text[]) WITH ORDINALITY AS x(hs, k, u, d, p, r, m, t, n)
       ORDER BY n
       ON CONFLICT (crawl, key) DO NOTHING
       RETURNING host, high),
     act AS (
       UPDATE frontier_hosts h SET active = true, high = h.high OR a.high
       FROM (SELECT host, bool_or(high) AS high FROM ins GROUP BY host) a
       WHERE h.id = a.host AND (NOT h.active OR (a.high AND NOT h.high)))
     SELECT count(*)::int AS n FROM ins`,
    [
      crawl,
      column((r) => r.host),
      column((r) => r.key === null ? null : r.key.toString()),
      column((r) => r.url),
      column((r) => r.req.depth),
      column((r) => r.req.priority),
      column((r) => r.req.ruleName),
      column((r) => r.req.method === "GET" ? null : r.req.method),
      column((r) => r.req.tmp === undefined ? null : JSON.stringify(r.req.tmp)),
    ] as unknown as Param[],
    { prepare: true },
  );
  return result.n;
}

function toClaim(task: string, row: ClaimRow): Claim {
  const request: CrawlRequest = {
    url: expandUrl(row.url, row.origin),
    method: row.method ?? "GET",
    depth: row.depth,
    priority: row.priority,
    ruleName: row.rule,
    attempt: row.attempts,
  };
  if (row.tmp !== null) request.tmp = row.tmp;
  const claim: Claim = {
    id: Number(row.id),
    generation: row.generation,
    task,
    crawl: row.crawl,
    request,
  };
  const page = pageRecordOf(row);
  return page ? { ...claim, page } : claim;
}

/** The URL without its password, for messages. */
function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");
}
