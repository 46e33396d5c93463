/**
 * @module
 * The embedded {@linkcode Frontier}: one SQLite file (`frontier.url = "sqlite:PATH"`, the
 * default `sqlite:data/frontier.db`) in WAL mode. Every operation is one write transaction
 * (`BEGIN IMMEDIATE`), so several processes on one machine can share the file and a claim is
 * never handed to two of them; the engine batches its acknowledgements into one `complete` per
 * group commit.
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { openSqlite } from "../storage/open_sqlite.ts";
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
  STATES,
} from "./frontier.ts";
import { urlHost, urlKey } from "./url_key.ts";
import { hostIsDue, HOSTS_TABLE_SQLITE } from "../spider/politeness/hosts_table.ts";

/** Options for {@linkcode SqliteFrontier}. */
export interface SqliteFrontierOptions {
  /** How long a write waits for another process's lock, ms. Default 10000. */
  busyTimeoutMs?: number;
  /** The clock leases are measured by, ms. Default `Date.now`. */
  now?: () => number;
}

const QUEUED = 0;
const LEASED = 1;
const DONE = 2;
const FAILED = 3;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS frontier_crawls (
  task TEXT PRIMARY KEY,
  crawl TEXT NOT NULL,
  reload INTEGER NOT NULL,
  started_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS frontier_requests (
  id INTEGER PRIMARY KEY,
  task TEXT NOT NULL,
  key TEXT,
  url TEXT NOT NULL,
  host TEXT NOT NULL,
  method TEXT NOT NULL,
  depth INTEGER NOT NULL,
  priority INTEGER NOT NULL,
  high INTEGER NOT NULL,
  rule TEXT NOT NULL,
  tmp TEXT,
  state INTEGER NOT NULL,
  due_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  generation INTEGER NOT NULL DEFAULT 0,
  owner TEXT,
  lease_until INTEGER,
  error TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS frontier_requests_key ON frontier_requests (task, key);
CREATE INDEX IF NOT EXISTS frontier_requests_queue
  ON frontier_requests (task, state, high DESC, id);
`;

interface ClaimRow {
  id: number;
  generation: number;
  url: string;
  method: string;
  depth: number;
  priority: number;
  rule: string;
  tmp: string | null;
  attempts: number;
  high: number;
}

interface CrawlRow {
  crawl: string;
  reload: number;
  started_at: number;
}

export class SqliteFrontier implements Frontier {
  readonly #db: DatabaseSync;
  readonly #now: () => number;
  readonly #statements = new Map<string, StatementSync>();
  #closed = false;

  constructor(path: string, options: SqliteFrontierOptions = {}) {
    this.#db = openSqlite(path, { busyTimeoutMs: options.busyTimeoutMs ?? 10_000 });
    this.#now = options.now ?? Date.now;
    try {
      this.#transaction(() => this.#db.exec(SCHEMA + HOSTS_TABLE_SQLITE));
    } catch (error) {
      this.#db.close();
      throw error;
    }
  }

  begin(task: string, options: BeginOptions): Promise<Opening> {
    return this.#async(() =>
      this.#transaction((): Opening => {
        const current = this.#crawl(task);
        const active = current !== undefined && this.#active(task);
        let reason: NewCrawlReason | undefined;
        if (!current) reason = "first";
        else if (options.fresh) reason = "fresh";
        else if (options.crawl !== undefined && options.crawl !== current.crawl) {
          reason = "replaced";
        } else if (options.crawl === undefined && !active) reason = "finished";
        const reload = options.reload ? 1 : 0;
        if (reason === undefined) {
          this.#run("UPDATE frontier_crawls SET reload = ? WHERE task = ?", reload, task);
          if (options.owner !== undefined) {
            this.#run(
              `UPDATE frontier_requests SET state = ${QUEUED}, owner = NULL
               WHERE task = ? AND state = ${LEASED} AND owner = ?`,
              task,
              options.owner,
            );
          }
          return {
            mode: "resumed",
            crawl: current!.crawl,
            startedAt: current!.started_at,
            counts: this.#counts(task),
          };
        }
        const crawl = options.crawl ?? crypto.randomUUID();
        const startedAt = this.#now();
        this.#run("DELETE FROM frontier_requests WHERE task = ?", task);
        this.#run(
          `INSERT INTO frontier_crawls (task, crawl, reload, started_at) VALUES (?, ?, ?, ?)
           ON CONFLICT (task) DO UPDATE SET crawl = excluded.crawl, reload = excluded.reload,
             started_at = excluded.started_at`,
          task,
          crawl,
          reload,
          startedAt,
        );
        this.#insert(task, reload === 1, options.roots);
        return { mode: "new", reason, crawl, startedAt, counts: this.#counts(task) };
      })
    );
  }

  add(task: string, requests: readonly CrawlRequest[]): Promise<number> {
    return this.#async(() =>
      this.#transaction(() => {
        const crawl = this.#crawl(task);
        if (!crawl) throw new Error(`task "${task}" has no crawl: begin it first`);
        return this.#insert(task, crawl.reload === 1, requests);
      })
    );
  }

  claim(task: string, options: ClaimOptions): Promise<Claim[]> {
    return this.#async(() =>
      this.#transaction(() => {
        const crawl = this.#crawl(task);
        if (!crawl) return [];
        const now = this.#now();
        this.#run(
          `UPDATE frontier_requests SET state = ${QUEUED}, owner = NULL
           WHERE task = ? AND state = ${LEASED} AND lease_until < ?`,
          task,
          now,
        );
        const rows = this.#statement(
          `UPDATE frontier_requests
           SET state = ${LEASED}, generation = generation + 1, owner = ?, lease_until = ?
           WHERE id IN (
             SELECT id FROM frontier_requests
             WHERE task = ? AND state = ${QUEUED} AND due_at <= ?
               ${
            options.skipHostsNotDue ? `AND ${hostIsDue("frontier_requests", String(now))}` : ""
          }
             ORDER BY high DESC, id LIMIT ?)
           RETURNING id, generation, url, method, depth, priority, rule, tmp, attempts, high`,
        ).all(
          options.owner,
          now + options.leaseMs,
          task,
          now,
          options.limit,
        ) as unknown as ClaimRow[];
        rows.sort((a, b) => b.high - a.high || a.id - b.id);
        return rows.map((row) => toClaim(task, crawl.crawl, row));
      })
    );
  }

  complete(outcomes: readonly Outcome[]): Promise<boolean[]> {
    return this.#async(() =>
      this.#transaction(() => {
        const now = this.#now();
        const crawls = new Map<string, CrawlRow | undefined>();
        return outcomes.map((outcome) => {
          const { claim } = outcome;
          if (!crawls.has(claim.task)) crawls.set(claim.task, this.#crawl(claim.task));
          const crawl = crawls.get(claim.task);
          if (!crawl || crawl.crawl !== claim.crawl) return false;
          let counted: boolean;
          if (outcome.kind === "done") {
            counted = this.#run(
              `UPDATE frontier_requests SET state = ${DONE}, owner = NULL, lease_until = NULL
               WHERE id = ? AND generation = ? AND state = ${LEASED}`,
              claim.id,
              claim.generation,
            ) > 0;
            if (counted || crawl.reload === 0) {
              this.#insert(claim.task, crawl.reload === 1, outcome.children);
            }
          } else {
            const uncounted = outcome.counted === false;
            const retry = uncounted || claim.request.attempt + 1 <= outcome.retries;
            counted = this.#run(
              `UPDATE frontier_requests SET state = ?, attempts = attempts + ?, due_at = ?,
                 error = ?, owner = NULL, lease_until = NULL
               WHERE id = ? AND generation = ? AND state = ${LEASED}`,
              retry ? QUEUED : FAILED,
              uncounted ? 0 : 1,
              now + (outcome.retryDelayMs ?? 0),
              outcome.error,
              claim.id,
              claim.generation,
            ) > 0;
          }
          return counted;
        });
      })
    );
  }

  extend(claims: readonly Claim[], leaseMs: number): Promise<void> {
    return this.#async(() =>
      this.#transaction(() => {
        const until = this.#now() + leaseMs;
        for (const claim of claims) {
          this.#run(
            `UPDATE frontier_requests SET lease_until = ?
             WHERE id = ? AND generation = ? AND state = ${LEASED}`,
            until,
            claim.id,
            claim.generation,
          );
        }
      })
    );
  }

  release(claims: readonly Claim[]): Promise<void> {
    return this.#async(() =>
      this.#transaction(() => {
        for (const claim of claims) {
          this.#run(
            `UPDATE frontier_requests SET state = ${QUEUED}, owner = NULL, lease_until = NULL
             WHERE id = ? AND generation = ? AND state = ${LEASED}`,
            claim.id,
            claim.generation,
          );
        }
      })
    );
  }

  counts(task: string): Promise<FrontierCounts> {
    return this.#async(() => this.#counts(task));
  }

  finished(task: string): Promise<boolean> {
    return this.#async(() => !this.#active(task));
  }

  drop(task: string, options: DropOptions = {}): Promise<void> {
    return this.#async(() =>
      this.#transaction(() => {
        const crawl = this.#crawl(task);
        if (!crawl || (options.crawl !== undefined && options.crawl !== crawl.crawl)) return;
        this.#run("DELETE FROM frontier_requests WHERE task = ?", task);
        this.#run("DELETE FROM frontier_crawls WHERE task = ?", task);
      })
    );
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#statements.clear();
      this.#db.close();
    }
    return Promise.resolve();
  }

  #insert(task: string, reload: boolean, requests: readonly CrawlRequest[]): number {
    if (requests.length === 0) return 0;
    const statement = this.#statement(
      `INSERT OR IGNORE INTO frontier_requests
         (task, key, url, host, method, depth, priority, high, rule, tmp, state, due_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ${QUEUED}, 0)`,
    );
    let added = 0;
    for (const req of requests) {
      const result = statement.run(
        task,
        reload ? null : urlKey(req.url, req.method),
        req.url,
        urlHost(req.url),
        req.method,
        req.depth,
        req.priority,
        req.priority > 0 ? 1 : 0,
        req.ruleName,
        req.tmp === undefined ? null : JSON.stringify(req.tmp),
      );
      added += Number(result.changes);
    }
    return added;
  }

  #crawl(task: string): CrawlRow | undefined {
    return this.#statement("SELECT crawl, reload, started_at FROM frontier_crawls WHERE task = ?")
      .get(task) as CrawlRow | undefined;
  }

  #active(task: string): boolean {
    return this.#statement(
      `SELECT 1 FROM frontier_requests WHERE task = ? AND state IN (${QUEUED}, ${LEASED}) LIMIT 1`,
    ).get(task) !== undefined;
  }

  #counts(task: string): FrontierCounts {
    const counts = emptyCounts();
    const rows = this.#statement(
      "SELECT state, count(*) AS n FROM frontier_requests WHERE task = ? GROUP BY state",
    ).all(task) as unknown as Array<{ state: number; n: number }>;
    for (const row of rows) counts[STATES[row.state]] += row.n;
    const expired = this.#statement(
      `SELECT count(*) AS n FROM frontier_requests
       WHERE task = ? AND state = ${LEASED} AND lease_until < ?`,
    ).get(task, this.#now()) as { n: number };
    counts.leased -= expired.n;
    counts.queued += expired.n;
    return counts;
  }

  #run(sql: string, ...params: Array<string | number | null>): number {
    return Number(this.#statement(sql).run(...params).changes);
  }

  #statement(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  #transaction<T>(body: () => T): T {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const result = body();
      this.#db.exec("COMMIT");
      return result;
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw error;
    }
  }

  /** Runs synchronous SQLite work as the async contract wants, errors as rejections. */
  #async<T>(work: () => T): Promise<T> {
    try {
      if (this.#closed) throw new Error("frontier is closed");
      return Promise.resolve(work());
    } catch (error) {
      return Promise.reject(error);
    }
  }
}

function toClaim(task: string, crawl: string, row: ClaimRow): Claim {
  const request: CrawlRequest = {
    url: row.url,
    method: row.method,
    depth: row.depth,
    priority: row.priority,
    ruleName: row.rule,
    attempt: row.attempts,
  };
  if (row.tmp !== null) request.tmp = JSON.parse(row.tmp);
  return { id: row.id, generation: row.generation, task, crawl, request };
}
