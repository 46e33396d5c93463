/**
 * @module
 * The shared {@linkcode Frontier} on Postgres (`frontier.url = "postgres://…"`), for a task
 * crawled by workers on several machines. Claims pick rows `FOR UPDATE SKIP LOCKED` and lease
 * them in the same statement, so two claimers never get one request and never wait on each
 * other; leases are measured by the server's clock, so the workers' clocks do not matter.
 */
import postgres from "postgres";
import { ServiceUnavailableError } from "../config/service_unavailable_error.ts";
import type { CrawlRequest } from "../spider/request.ts";
import {
  type BeginOptions,
  type Claim,
  type ClaimOptions,
  type DropOptions,
  emptyCounts,
  type Frontier,
  type FrontierCounts,
  type NewCrawlReason,
  type Opening,
  type Outcome,
} from "./frontier.ts";
import { urlHost, urlKey } from "./url_key.ts";
import { hostIsDue, HOSTS_TABLE_POSTGRES } from "../spider/politeness/hosts_table.ts";

/** Options for {@linkcode openPostgresFrontier}. */
export interface PostgresFrontierOptions {
  /** Connections in the pool. Default 4. */
  maxConnections?: number;
  /** How long to wait for a connection, seconds. Default 10. */
  connectTimeoutSeconds?: number;
}

type Sql = postgres.Sql;
type Tx = postgres.TransactionSql;
type Param = string | number | boolean | null | Array<string | number | boolean | null>;

const QUEUED = 0;
const LEASED = 1;
const DONE = 2;
const FAILED = 3;
/** The server's clock in ms: one clock for every worker's leases. */
const NOW = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS frontier_crawls (
  task text PRIMARY KEY,
  crawl text NOT NULL,
  reload boolean NOT NULL,
  started_at bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS frontier_requests (
  id bigserial PRIMARY KEY,
  task text NOT NULL,
  key text,
  url text NOT NULL,
  host text NOT NULL,
  method text NOT NULL,
  depth integer NOT NULL,
  priority integer NOT NULL,
  high boolean NOT NULL,
  rule text NOT NULL,
  tmp jsonb,
  state smallint NOT NULL,
  due_at bigint NOT NULL DEFAULT 0,
  attempts integer NOT NULL DEFAULT 0,
  generation integer NOT NULL DEFAULT 0,
  owner text,
  lease_until bigint,
  error text
);
CREATE UNIQUE INDEX IF NOT EXISTS frontier_requests_key ON frontier_requests (task, key);
CREATE INDEX IF NOT EXISTS frontier_requests_queue
  ON frontier_requests (task, high DESC, id) WHERE state = ${QUEUED};
CREATE INDEX IF NOT EXISTS frontier_requests_leases
  ON frontier_requests (task, lease_until) WHERE state = ${LEASED};
CREATE INDEX IF NOT EXISTS frontier_requests_state ON frontier_requests (task, state);
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
  const sql = postgres(url, {
    max: options.maxConnections ?? 4,
    connect_timeout: options.connectTimeoutSeconds ?? 10,
    onnotice: () => {},
  });
  try {
    await sql.begin(async (tx) => {
      // Two workers starting at once would race on CREATE TABLE IF NOT EXISTS.
      await tx.unsafe("SELECT pg_advisory_xact_lock(hashtext('crawler frontier schema'))");
      await tx.unsafe(SCHEMA + HOSTS_TABLE_POSTGRES);
    });
  } catch (error) {
    await sql.end({ timeout: 1 }).catch(() => {});
    throw new ServiceUnavailableError(
      "frontier.url",
      `cannot open the frontier at ${redact(url)}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  return new PostgresFrontier(sql);
}

interface ClaimRow {
  id: string;
  generation: number;
  url: string;
  method: string;
  depth: number;
  priority: number;
  rule: string;
  tmp: Record<string, unknown> | null;
  attempts: number;
  high: boolean;
  crawl: string;
}

interface CrawlRow {
  crawl: string;
  reload: boolean;
  started_at: string;
}

export class PostgresFrontier implements Frontier {
  readonly #sql: Sql;

  constructor(sql: Sql) {
    this.#sql = sql;
  }

  begin(task: string, options: BeginOptions): Promise<Opening> {
    return this.#transaction(async (tx): Promise<Opening> => {
      // One begin per task at a time: two workers starting together start one crawl.
      await tx.unsafe("SELECT pg_advisory_xact_lock(hashtext($1))", [`frontier task ${task}`]);
      const current = await crawlOf(tx, task, "FOR UPDATE");
      const active = current !== undefined && await isActive(tx, task);
      let reason: NewCrawlReason | undefined;
      if (!current) reason = "first";
      else if (options.fresh) reason = "fresh";
      else if (options.crawl !== undefined && options.crawl !== current.crawl) reason = "replaced";
      else if (options.crawl === undefined && !active) reason = "finished";
      const reload = options.reload ?? false;
      if (reason === undefined) {
        await tx.unsafe("UPDATE frontier_crawls SET reload = $2 WHERE task = $1", [task, reload]);
        if (options.owner !== undefined) {
          await tx.unsafe(
            `UPDATE frontier_requests SET state = ${QUEUED}, owner = NULL, lease_until = NULL
             WHERE task = $1 AND state = ${LEASED} AND owner = $2`,
            [task, options.owner],
          );
        }
        return {
          mode: "resumed",
          crawl: current!.crawl,
          startedAt: Number(current!.started_at),
          counts: await countsOf(tx, task),
        };
      }
      const crawl = options.crawl ?? crypto.randomUUID();
      const startedAt = Date.now();
      await tx.unsafe("DELETE FROM frontier_requests WHERE task = $1", [task]);
      await tx.unsafe(
        `INSERT INTO frontier_crawls (task, crawl, reload, started_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (task) DO UPDATE SET crawl = excluded.crawl, reload = excluded.reload,
           started_at = excluded.started_at`,
        [task, crawl, reload, startedAt],
      );
      await insert(tx, task, reload, options.roots);
      return { mode: "new", reason, crawl, startedAt, counts: await countsOf(tx, task) };
    });
  }

  add(task: string, requests: readonly CrawlRequest[]): Promise<number> {
    return this.#transaction(async (tx) => {
      const crawl = await crawlOf(tx, task, "FOR SHARE");
      if (!crawl) throw new Error(`task "${task}" has no crawl: begin it first`);
      return await insert(tx, task, crawl.reload, requests);
    });
  }

  async claim(task: string, options: ClaimOptions): Promise<Claim[]> {
    return await this.#retrying(async () => {
      await this.#sql.unsafe(
        `UPDATE frontier_requests SET state = ${QUEUED}, owner = NULL, lease_until = NULL
         WHERE id IN (
           SELECT id FROM frontier_requests
           WHERE task = $1 AND state = ${LEASED} AND lease_until < ${NOW}
           FOR UPDATE SKIP LOCKED)`,
        [task],
      );
      const rows = await this.#sql.unsafe<ClaimRow[]>(
        `WITH picked AS (
           SELECT id FROM frontier_requests
           WHERE task = $1 AND state = ${QUEUED} AND due_at <= ${NOW}
             ${options.skipHostsNotDue ? `AND ${hostIsDue("frontier_requests", NOW)}` : ""}
           ORDER BY high DESC, id
           LIMIT $2
           FOR UPDATE SKIP LOCKED)
         UPDATE frontier_requests f
         SET state = ${LEASED}, generation = f.generation + 1, owner = $3,
           lease_until = ${NOW} + $4
         FROM picked WHERE f.id = picked.id
         RETURNING f.id, f.generation, f.url, f.method, f.depth, f.priority, f.rule, f.tmp,
           f.attempts, f.high, (SELECT crawl FROM frontier_crawls c WHERE c.task = $1) AS crawl`,
        [task, options.limit, options.owner, Math.round(options.leaseMs)],
      );
      rows.sort((a, b) => Number(b.high) - Number(a.high) || Number(a.id) - Number(b.id));
      return rows.filter((row) => row.crawl !== null).map((row) => toClaim(task, row));
    });
  }

  complete(outcomes: readonly Outcome[]): Promise<boolean[]> {
    if (outcomes.length === 0) return Promise.resolve([]);
    return this.#transaction(async (tx) => {
      const tasks = [...new Set(outcomes.map((o) => o.claim.task))].sort();
      const crawls = new Map<string, CrawlRow>();
      for (const task of tasks) {
        // Shared lock: a begin or drop of the task waits until these acks are in.
        const crawl = await crawlOf(tx, task, "FOR SHARE");
        if (crawl) crawls.set(task, crawl);
      }
      const current = (o: Outcome) => crawls.get(o.claim.task)?.crawl === o.claim.crawl;
      const done = outcomes.filter((o) => o.kind === "done" && current(o));
      const counted = new Set<number>();
      if (done.length > 0) {
        const rows = await tx.unsafe<Array<{ id: string }>>(
          `UPDATE frontier_requests f SET state = ${DONE}, owner = NULL, lease_until = NULL
           FROM unnest($1::bigint[], $2::integer[]) AS c(id, generation)
           WHERE f.id = c.id AND f.generation = c.generation AND f.state = ${LEASED}
           RETURNING f.id`,
          [done.map((o) => o.claim.id), done.map((o) => o.claim.generation)],
        );
        for (const row of rows) counted.add(Number(row.id));
      }
      for (const outcome of outcomes) {
        if (outcome.kind !== "failed" || !current(outcome)) continue;
        const { claim } = outcome;
        const uncounted = outcome.counted === false;
        const retry = uncounted || claim.request.attempt + 1 <= outcome.retries;
        const rows = await tx.unsafe(
          `UPDATE frontier_requests SET state = $1, attempts = attempts + $6,
             due_at = ${NOW} + $2, error = $3, owner = NULL, lease_until = NULL
           WHERE id = $4 AND generation = $5 AND state = ${LEASED}
           RETURNING id`,
          [
            retry ? QUEUED : FAILED,
            Math.round(outcome.retryDelayMs ?? 0),
            outcome.error,
            claim.id,
            claim.generation,
            uncounted ? 0 : 1,
          ],
        );
        if (rows.length > 0) counted.add(claim.id);
      }
      for (const task of tasks) {
        const crawl = crawls.get(task);
        if (!crawl) continue;
        const children = done
          .filter((o) => o.claim.task === task && (counted.has(o.claim.id) || !crawl.reload))
          .flatMap((o) => (o as Extract<Outcome, { kind: "done" }>).children);
        await insert(tx, task, crawl.reload, children);
      }
      return outcomes.map((o) => current(o) && counted.has(o.claim.id));
    });
  }

  async extend(claims: readonly Claim[], leaseMs: number): Promise<void> {
    if (claims.length === 0) return;
    await this.#retrying(() =>
      this.#sql.unsafe(
        `UPDATE frontier_requests f SET lease_until = ${NOW} + $3
         FROM unnest($1::bigint[], $2::integer[]) AS c(id, generation)
         WHERE f.id = c.id AND f.generation = c.generation AND f.state = ${LEASED}`,
        [claims.map((c) => c.id), claims.map((c) => c.generation), Math.round(leaseMs)],
      )
    );
  }

  async release(claims: readonly Claim[]): Promise<void> {
    if (claims.length === 0) return;
    await this.#retrying(() =>
      this.#sql.unsafe(
        `UPDATE frontier_requests f SET state = ${QUEUED}, owner = NULL, lease_until = NULL
         FROM unnest($1::bigint[], $2::integer[]) AS c(id, generation)
         WHERE f.id = c.id AND f.generation = c.generation AND f.state = ${LEASED}`,
        [claims.map((c) => c.id), claims.map((c) => c.generation)],
      )
    );
  }

  counts(task: string): Promise<FrontierCounts> {
    return this.#retrying(() => countsOf(this.#sql, task));
  }

  finished(task: string): Promise<boolean> {
    return this.#retrying(async () => !(await isActive(this.#sql, task)));
  }

  drop(task: string, options: DropOptions = {}): Promise<void> {
    return this.#transaction(async (tx) => {
      await tx.unsafe("SELECT pg_advisory_xact_lock(hashtext($1))", [`frontier task ${task}`]);
      const crawl = await crawlOf(tx, task, "FOR UPDATE");
      if (!crawl || (options.crawl !== undefined && options.crawl !== crawl.crawl)) return;
      await tx.unsafe("DELETE FROM frontier_requests WHERE task = $1", [task]);
      await tx.unsafe("DELETE FROM frontier_crawls WHERE task = $1", [task]);
    });
  }

  async close(): Promise<void> {
    await this.#sql.end({ timeout: 5 });
  }

  #transaction<T>(body: (tx: Tx) => Promise<T>): Promise<T> {
    return this.#retrying(() => this.#sql.begin((tx) => body(tx)) as Promise<T>);
  }

  /** Runs `work`, again after a deadlock or serialization failure (Postgres undid it). */
  async #retrying<T>(work: () => Promise<T>): Promise<T> {
    for (let attempt = 1;; attempt++) {
      try {
        return await work();
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (!code || !RETRIABLE_CODES.has(code) || attempt >= 5) throw error;
      }
    }
  }
}

async function crawlOf(
  tx: Sql | Tx,
  task: string,
  lock: "FOR UPDATE" | "FOR SHARE",
): Promise<CrawlRow | undefined> {
  const rows = await tx.unsafe<CrawlRow[]>(
    `SELECT crawl, reload, started_at FROM frontier_crawls WHERE task = $1 ${lock}`,
    [task],
  );
  return rows[0];
}

async function isActive(tx: Sql | Tx, task: string): Promise<boolean> {
  const rows = await tx.unsafe(
    `SELECT 1 FROM frontier_requests WHERE task = $1 AND state IN (${QUEUED}, ${LEASED}) LIMIT 1`,
    [task],
  );
  return rows.length > 0;
}

async function countsOf(tx: Sql | Tx, task: string): Promise<FrontierCounts> {
  const rows = await tx.unsafe<Array<Record<keyof FrontierCounts, string>>>(
    `SELECT
       count(*) FILTER (WHERE state = ${QUEUED}
         OR (state = ${LEASED} AND lease_until < ${NOW})) AS queued,
       count(*) FILTER (WHERE state = ${LEASED} AND lease_until >= ${NOW}) AS leased,
       count(*) FILTER (WHERE state = ${DONE}) AS done,
       count(*) FILTER (WHERE state = ${FAILED}) AS failed
     FROM frontier_requests WHERE task = $1`,
    [task],
  );
  const counts = emptyCounts();
  for (const key of Object.keys(counts) as Array<keyof FrontierCounts>) {
    counts[key] = Number(rows[0]?.[key] ?? 0);
  }
  return counts;
}

/** Inserts requests, skipping known keys; resolves with how many were new. */
async function insert(
  tx: Tx,
  task: string,
  reload: boolean,
  requests: readonly CrawlRequest[],
): Promise<number> {
  if (requests.length === 0) return 0;
  // In the order found, so the queue stays first in, first out. Two workers inserting one new
  // URL pair in opposite orders can deadlock; Postgres then undoes one and it is retried.
  const rows = requests.map((req) => ({ req, key: reload ? null : urlKey(req.url, req.method) }));
  const column = <T extends Param>(f: (row: (typeof rows)[number]) => T) => rows.map(f);
  const result = await tx.unsafe(
    `INSERT INTO frontier_requests
       (task, key, url, host, method, depth, priority, high, rule, tmp, state)
     SELECT $1, k, u, h, m, d, p, p > 0, r, t::jsonb, ${QUEUED}
     FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::integer[], $7::integer[],
       $8::text[], $9::text[]) WITH ORDINALITY AS x(k, u, h, m, d, p, r, t, n)
     ORDER BY n
     ON CONFLICT (task, key) DO NOTHING
     RETURNING id`,
    [
      task,
      column((r) => r.key),
      column((r) => r.req.url),
      column((r) => urlHost(r.req.url)),
      column((r) => r.req.method),
      column((r) => r.req.depth),
      column((r) => r.req.priority),
      column((r) => r.req.ruleName),
      column((r) => r.req.tmp === undefined ? null : JSON.stringify(r.req.tmp)),
    ] as unknown as Param[],
  );
  return result.length;
}

function toClaim(task: string, row: ClaimRow): Claim {
  const request: CrawlRequest = {
    url: row.url,
    method: row.method,
    depth: row.depth,
    priority: row.priority,
    ruleName: row.rule,
    attempt: row.attempts,
  };
  if (row.tmp !== null) request.tmp = row.tmp;
  return { id: Number(row.id), generation: row.generation, task, crawl: row.crawl, request };
}

/** The URL without its password, for messages. */
function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");
}
