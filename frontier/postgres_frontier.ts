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
/** What an outcome does to its request, as `frontier_complete` reads it (`CompleteRow.kind`). */
const DONE_FINAL = 0, DONE_REVISIT = 1, FAILED_RETRY = 2, FAILED_FINAL = 3, FAILED_REVISIT = 4;
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
            await tx.unsafe(
              SCHEMA + HOSTS_TABLE_POSTGRES + CLAIM_FUNCTION + INSERT_FUNCTION + COMPLETE_FUNCTION,
            );
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
    ready_at = least(h.ready_at, ${NOW})
  FROM (SELECT host, bool_or(high <> 0) AS high FROM unnest($1::bigint[], $2::int[]) AS r(host, high)
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
RETURNS json LANGUAGE plpgsql VOLATILE SET plan_cache_mode = force_generic_plan AS $claim$
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
    array_agg(hosts.id ORDER BY hosts.pass, hosts.ready_at, hosts.turn, hosts.id),
    array_agg(hosts.polite_at ORDER BY hosts.pass, hosts.ready_at, hosts.turn, hosts.id),
    array_agg(CASE WHEN served.host IS NULL THEN 0 ELSE 1 END
              ORDER BY hosts.pass, hosts.ready_at, hosts.turn, hosts.id)
  INTO v_crawl, v_rows, v_ids, v_polite, v_served
  FROM hosts LEFT JOIN (SELECT DISTINCT host FROM leased) served ON served.host = hosts.id;
  IF v_ids IS NOT NULL THEN
    UPDATE frontier_hosts h SET
      turn = coalesce(s.turn, h.turn),
      ready_at = CASE
        WHEN s.served = 1 THEN v_now + p_hold_ms
        WHEN s.polite_at > v_now THEN s.polite_at
        ELSE coalesce((SELECT min(u.due_at) FROM frontier_urls u
                       WHERE u.host = h.id AND u.state = ${QUEUED}), h.ready_at) END,
      active = s.served = 1 OR EXISTS (
        SELECT 1 FROM frontier_urls u WHERE u.host = h.id AND u.state = ${QUEUED}),
      high = h.high AND EXISTS (
        SELECT 1 FROM frontier_urls u WHERE u.host = h.id AND u.state = ${QUEUED} AND u.high)
    -- The hosts served take their next turns in the order they were served (the array's).
    FROM (SELECT id, polite_at, served,
            CASE WHEN served = 1 THEN nextval('frontier_turns') END AS turn
          FROM unnest(v_ids, v_polite, v_served) AS s(id, polite_at, served)) s
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

/** The fields of `frontier_insert`'s rows (`InsertRow`), as columns. */
const INSERT_COLUMNS = [
  "parent integer",
  "host text",
  "origin text",
  "key bigint",
  "url text",
  "depth integer",
  "priority integer",
  "rule text",
  "method text",
  "tmp jsonb",
];
/** The fields of `frontier_complete`'s outcomes (`CompleteRow`), as columns. */
const OUTCOME_COLUMNS = [
  "id bigint",
  "generation integer",
  "crawl text",
  "kind integer",
  "state smallint",
  "add integer",
  "delay bigint",
  "error text",
  "wait bigint",
  ...PAGE_COLUMNS.map((c) =>
    `${c} ${c === "fetched_at" || c === "interval_ms" ? "bigint" : "text"}`
  ),
];

/**
 * The rows of the JSON array `source` as a table `alias` of `columns`, numbered from 1 in the
 * array's order by a column `n`.
 */
function jsonRows(source: string, alias: string, columns: readonly string[]): string {
  const names = columns.map((c) => c.split(" ")[0]);
  return `ROWS FROM (json_to_recordset(${source}) AS (${columns.join(", ")})) WITH ORDINALITY
    AS ${alias}(${names.join(", ")}, n)`;
}

/**
 * Queues requests, skipping known keys: `frontier_insert(crawl, reload, rows, parents)` answers
 * how many were new. `rows` is a JSON array of `InsertRow`s; with `parents`, only the rows whose
 * `parent` is one of them are queued (the children of the outcomes that count, see
 * `COMPLETE_FUNCTION`).
 *
 * The crawl's hosts first, in one order for every transaction (two inserting the same new hosts
 * in opposite orders would deadlock); DO UPDATE so an existing row is returned too. Then the
 * requests, in the order given, so each host's queue stays first in, first out, each stored
 * after its host's origin (`compactUrl`); their hosts are marked as having some. Two workers
 * inserting one new URL pair in opposite orders can deadlock; Postgres then undoes one and it
 * is retried. Two statements: the second updates host rows the first may have written, which
 * one statement cannot do twice.
 */
const INSERT_FUNCTION = `
CREATE OR REPLACE FUNCTION frontier_insert(p_crawl bigint, p_reload boolean, p_rows json,
  p_parents integer[] DEFAULT NULL)
RETURNS integer LANGUAGE plpgsql VOLATILE SET plan_cache_mode = force_generic_plan AS $insert$
DECLARE
  v_ids bigint[];
  v_hosts text[];
  v_origins text[];
  v_count integer;
BEGIN
  WITH r AS (
    SELECT * FROM ${jsonRows("p_rows", "x", INSERT_COLUMNS)}
    WHERE p_parents IS NULL OR x.parent = ANY(p_parents)),
  up AS (
    INSERT INTO frontier_hosts (crawl, host, origin, active, high, ready_at)
    SELECT p_crawl, host, (array_agg(origin ORDER BY n))[1], false, false, 0 FROM r
    GROUP BY host ORDER BY host
    ON CONFLICT (crawl, host) DO UPDATE SET host = excluded.host
    RETURNING id, host, CASE WHEN origin = '' THEN host ELSE origin END AS origin)
  SELECT array_agg(id), array_agg(host), array_agg(origin) INTO v_ids, v_hosts, v_origins
  FROM up;
  IF v_ids IS NULL THEN RETURN 0; END IF;
  WITH hs AS (SELECT * FROM unnest(v_ids, v_hosts, v_origins) AS h(id, host, origin)),
  ins AS (
    INSERT INTO frontier_urls (crawl, host, key, url, state, high, depth, priority, rule, method,
      tmp)
    SELECT p_crawl, hs.id, CASE WHEN p_reload THEN NULL ELSE r.key END,
      CASE WHEN hs.origin <> '' AND starts_with(r.url, hs.origin)
        AND substr(r.url, length(hs.origin) + 1, 1) = '/'
        THEN substr(r.url, length(hs.origin) + 1) ELSE r.url END,
      ${QUEUED}, r.priority > 0, r.depth, r.priority, r.rule, r.method, r.tmp
    FROM ${jsonRows("p_rows", "r", INSERT_COLUMNS)}
    JOIN hs ON hs.host = r.host
    WHERE p_parents IS NULL OR r.parent = ANY(p_parents)
    ORDER BY r.n
    ON CONFLICT (crawl, key) DO NOTHING
    RETURNING host, high),
  act AS (
    UPDATE frontier_hosts h SET active = true, high = h.high OR a.high
    FROM (SELECT host, bool_or(high) AS high FROM ins GROUP BY host) a
    WHERE h.id = a.host AND (NOT h.active OR (a.high AND NOT h.high)))
  SELECT count(*)::integer INTO v_count FROM ins;
  RETURN v_count;
END $insert$;
`;

/**
 * The acknowledgement of one task's outcomes, one call:
 * `frontier_complete(task, outcomes, children)` answers, per outcome, whether it counted (a JSON
 * array of booleans). `outcomes` is a JSON array of `CompleteRow`s, `children` of `InsertRow`s
 * whose `parent` is the index of their outcome.
 *
 * It takes the task's lock shared (a begin or drop of the task waits until these acks are in;
 * the key is `taskLock`'s), then: the outcomes of the task's current crawl whose leases are
 * current take their new state (done; queued again for a retry or a revisit; failed); the hosts
 * of those queued again are marked as having some; the hosts' next turns are set as the
 * outcomes tell (the latest word per host wins; without word from politeness a hold ends now);
 * and the children of done outcomes are queued (of those that counted only, when the crawl
 * reloads). It commits durably whatever the server's default: what an acknowledgement adds must
 * not vanish in a crash after the engine counted it.
 *
 * A function rather than a transaction of statements: one round trip instead of six or more.
 */
const COMPLETE_FUNCTION = `
CREATE OR REPLACE FUNCTION frontier_complete(p_task text, p_outcomes json, p_children json)
RETURNS json LANGUAGE plpgsql VOLATILE SET plan_cache_mode = force_generic_plan AS $complete$
DECLARE
  v_now bigint := ${NOW};
  v_crawl_id bigint;
  v_crawl text;
  v_reload boolean;
  v_counted bigint[];
  v_hosts bigint[];
  v_highs boolean[];
  v_requeued boolean[];
  v_waits bigint[];
  v_parents integer[];
BEGIN
  PERFORM set_config('synchronous_commit', 'on', true);
  SELECT t.id, t.crawl, t.reload INTO v_crawl_id, v_crawl, v_reload
  FROM (SELECT pg_advisory_xact_lock_shared(hashtext('frontier task ' || p_task))) l
  LEFT JOIN frontier_tasks t ON t.task = p_task;
  IF v_crawl_id IS NULL THEN
    RETURN (SELECT coalesce(json_agg(false), '[]') FROM json_array_elements(p_outcomes));
  END IF;
  WITH o AS (
    SELECT * FROM ${jsonRows("p_outcomes", "x", OUTCOME_COLUMNS)}),
  u AS (
    UPDATE frontier_urls f SET state = o.state, ${UNLEASED},
      attempts = CASE WHEN o.kind IN (${DONE_FINAL}, ${FAILED_RETRY}, ${FAILED_FINAL})
        THEN f.attempts + o.add ELSE 0 END,
      error = CASE o.kind WHEN ${DONE_FINAL} THEN f.error WHEN ${DONE_REVISIT} THEN NULL
        ELSE o.error END,
      due_at = CASE WHEN o.kind = ${DONE_FINAL} THEN f.due_at ELSE v_now + o.delay END,
      fetched_at = CASE o.kind WHEN ${DONE_REVISIT} THEN o.fetched_at
        WHEN ${FAILED_REVISIT} THEN v_now ELSE f.fetched_at END,
      interval_ms = CASE o.kind WHEN ${DONE_REVISIT} THEN o.interval_ms
        WHEN ${FAILED_REVISIT} THEN o.delay ELSE f.interval_ms END,
      etag = CASE WHEN o.kind = ${DONE_REVISIT} THEN o.etag ELSE f.etag END,
      modified = CASE WHEN o.kind = ${DONE_REVISIT} THEN o.modified ELSE f.modified END,
      hash = CASE WHEN o.kind = ${DONE_REVISIT} THEN o.hash ELSE f.hash END
    FROM o
    WHERE f.id = o.id AND f.generation = o.generation AND f.state = ${LEASED}
      AND f.crawl = v_crawl_id
    RETURNING o.n, f.id, f.host, f.high, f.state = ${QUEUED} AS requeued,
      coalesce(o.wait, -1) AS wait)
  SELECT array_agg(id ORDER BY n), array_agg(host ORDER BY n), array_agg(high ORDER BY n),
    array_agg(requeued ORDER BY n), array_agg(wait ORDER BY n)
  INTO v_counted, v_hosts, v_highs, v_requeued, v_waits FROM u;
  IF v_counted IS NOT NULL THEN
    -- Rows that would not change are left alone (a write each all the same): a host already
    -- marked, a hold already over (no politeness delay: the claim held it for 0 ms).
    UPDATE frontier_hosts h SET active = true, high = h.high OR a.high
    FROM (SELECT host, bool_or(high) AS high FROM unnest(v_hosts, v_highs, v_requeued)
          AS r(host, high, requeued) WHERE requeued GROUP BY host) a
    WHERE h.id = a.host AND (NOT h.active OR (a.high AND NOT h.high));
    UPDATE frontier_hosts h SET ready_at = CASE WHEN w.wait < 0
      THEN least(h.ready_at, v_now) ELSE v_now + w.wait END
    FROM (SELECT DISTINCT ON (host) host, wait FROM unnest(v_hosts, v_waits)
          WITH ORDINALITY AS w(host, wait, n) ORDER BY host, n DESC) w
    WHERE h.id = w.host
      AND CASE WHEN w.wait < 0 THEN h.ready_at > v_now ELSE h.ready_at <> v_now + w.wait END;
  END IF;
  IF json_array_length(p_children) > 0 THEN
    SELECT array_agg(n - 1) INTO v_parents
    FROM ${jsonRows("p_outcomes", "o", OUTCOME_COLUMNS)}
    WHERE o.kind IN (${DONE_FINAL}, ${DONE_REVISIT}) AND o.crawl = v_crawl
      AND (NOT v_reload OR o.id = ANY(v_counted));
    IF v_parents IS NOT NULL THEN
      PERFORM frontier_insert(v_crawl_id, v_reload, p_children, v_parents);
    END IF;
  END IF;
  RETURN (SELECT json_agg(o.crawl = v_crawl AND o.id = ANY(coalesce(v_counted, '{}'))
                          ORDER BY n)
          FROM ${jsonRows("p_outcomes", "o", OUTCOME_COLUMNS)});
END $complete$;
`;

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
          await activate(tx, rows);
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

  async complete(outcomes: readonly Outcome[]): Promise<boolean[]> {
    if (outcomes.length === 0) return [];
    const byTask = new Map<string, number[]>();
    outcomes.forEach((o, i) => {
      const indexes = byTask.get(o.claim.task);
      if (indexes) indexes.push(i);
      else byTask.set(o.claim.task, [i]);
    });
    const names = [...byTask.keys()].sort();
    const counted: boolean[] = new Array(outcomes.length).fill(false);
    /** Acknowledges one task's outcomes, one call of `frontier_complete`. */
    const completeTask = async (sql: Sql | Tx, name: string) => {
      const indexes = byTask.get(name)!;
      const mine = indexes.map((i) => outcomes[i]);
      const [{ counts }] = await sql.unsafe<Array<{ counts: boolean[] }>>(
        "SELECT frontier_complete($1, $2::text::json, $3::text::json) AS counts",
        [name, JSON.stringify(mine.map(completeRow)), JSON.stringify(childRows(mine))],
        { prepare: true },
      );
      counts.forEach((yes, k) => counted[indexes[k]] = yes);
    };
    if (names.length === 1) {
      // One call is one transaction, committed durably by the function.
      await this.#retrying((sql) => completeTask(sql, names[0]));
    } else {
      await this.#transaction(async (tx) => {
        for (const name of names) await completeTask(tx, name);
      });
    }
    return counted;
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
      await activate(tx, rows);
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

/** Marks hosts that got requests back (released, resumed) as having some, ready now. */
async function activate(
  tx: Tx,
  rows: ReadonlyArray<{ host: string; high: boolean }>,
): Promise<void> {
  if (rows.length === 0) return;
  await tx.unsafe(ACTIVATE, [rows.map((r) => r.host), rows.map((r) => r.high ? 1 : 0)], {
    prepare: true,
  });
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

/** A request to queue, as `frontier_insert` reads it. */
interface InsertRow {
  /** The index of the outcome whose child it is (children of `frontier_complete` only). */
  parent?: number;
  host: string;
  /** The origin its host row stores if the host is new (`storedOrigin`). */
  origin: string;
  /** The URL key's hash, as text (a JSON number would lose its precision). */
  key: string;
  url: string;
  depth: number;
  priority: number;
  rule: string;
  /** Absent for GET. */
  method?: string;
  tmp?: Record<string, unknown>;
}

function insertRow(req: CrawlRequest, parent?: number): InsertRow {
  const parts = urlParts(req.url);
  const row: InsertRow = {
    host: parts.host,
    origin: storedOrigin(parts),
    key: keyHash(urlKey(req.url, req.method)).toString(),
    url: req.url,
    depth: req.depth,
    priority: req.priority,
    rule: req.ruleName,
  };
  if (parent !== undefined) row.parent = parent;
  if (req.method !== "GET") row.method = req.method;
  if (req.tmp !== undefined) row.tmp = req.tmp;
  return row;
}

/** What `frontier_complete` reads of an outcome. */
interface CompleteRow {
  id: number;
  generation: number;
  crawl: string;
  kind: number;
  /** The request's new state. */
  state: number;
  /** Attempts it uses (0 or 1; retries and failures only). */
  add: number;
  /** Due this long after the commit, ms (all but a final done). */
  delay: number;
  error?: string;
  /** Hosts' next turns, ms from the commit (absent: no word, a hold ends now). */
  wait?: number;
  fetched_at?: number;
  interval_ms?: number;
  etag?: string;
  modified?: string;
  hash?: string;
}

function completeRow(outcome: Outcome): CompleteRow {
  const { claim } = outcome;
  const base = { id: claim.id, generation: claim.generation, crawl: claim.crawl };
  const wait = outcome.hostWaitMs === undefined ? {} : { wait: Math.round(outcome.hostWaitMs) };
  if (outcome.kind === "done") {
    const page = outcome.revisit;
    if (page === undefined) {
      return { ...base, ...wait, kind: DONE_FINAL, state: DONE, add: 0, delay: 0 };
    }
    const interval = Math.round(page.intervalMs);
    return {
      ...base,
      ...wait,
      kind: DONE_REVISIT,
      state: QUEUED,
      add: 0,
      delay: interval,
      fetched_at: Math.round(page.fetchedAt),
      interval_ms: interval,
      etag: page.etag,
      modified: page.lastModified,
      hash: page.hash,
    };
  }
  const uncounted = outcome.counted === false;
  const retry = uncounted || claim.request.attempt + 1 <= outcome.retries;
  // A recrawl task's request failed for good is tried again at its next visit, afresh; it
  // counts as visited now (scheduled, with the validators it had).
  const revisit = !retry && outcome.revisitAfterMs !== undefined;
  return {
    ...base,
    ...wait,
    kind: retry ? FAILED_RETRY : revisit ? FAILED_REVISIT : FAILED_FINAL,
    state: retry || revisit ? QUEUED : FAILED,
    add: uncounted ? 0 : 1,
    delay: Math.round((revisit ? outcome.revisitAfterMs : outcome.retryDelayMs) ?? 0),
    error: outcome.error,
  };
}

/** The children of the done outcomes, each with the index of its outcome. */
function childRows(outcomes: readonly Outcome[]): InsertRow[] {
  return outcomes.flatMap((o, i) =>
    o.kind === "done" ? o.children.map((child) => insertRow(child, i)) : []
  );
}

/** Inserts requests, skipping known keys; resolves with how many were new. */
async function insert(
  tx: Tx,
  crawl: string,
  reload: boolean,
  requests: readonly CrawlRequest[],
): Promise<number> {
  if (requests.length === 0) return 0;
  const [{ n }] = await tx.unsafe<Array<{ n: number }>>(
    "SELECT frontier_insert($1, $2, $3::text::json) AS n",
    [crawl, reload, JSON.stringify(requests.map((req) => insertRow(req)))],
    { prepare: true },
  );
  return n;
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
