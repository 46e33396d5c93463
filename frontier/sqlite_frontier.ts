/**
 * @module
 * The embedded {@linkcode Frontier}: one SQLite file (`frontier.url = "sqlite:PATH"`, the
 * default `sqlite:data/frontier.db`) in WAL mode. Every operation is one write transaction
 * (`BEGIN IMMEDIATE`), so several processes on one machine can share the file and a claim is
 * never handed to two of them; the engine batches its acknowledgements into one `complete` per
 * group commit.
 *
 * Layout (docs/frontier.md, "The frontier"): `frontier_tasks` names each task's crawl;
 * `frontier_hosts` holds a crawl's hosts with the time each is next ready, indexed by that time
 * over the hosts that may have requests queued; `frontier_urls` holds the requests, each with its
 * host's id, a 64-bit hash of its key and its URL less the host's origin. A claim walks the ready
 * hosts in the index and takes each host's first requests from a per-host queue index, so hosts
 * that are not due are never read.
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { openSqlite } from "../db/open_sqlite.ts";
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
import { compactUrl, expandUrl, storedOrigin, urlParts } from "./_url_parts.ts";
import { HOSTS_TABLE_SQLITE } from "./hosts_table.ts";
import { PAGE_COLUMNS, type PageColumns, pageRecordOf } from "./_page_columns.ts";

/** Options for {@linkcode SqliteFrontier}. */
export interface SqliteFrontierOptions {
  /** How long a write waits for another process's lock, ms. Default 10000. */
  busyTimeoutMs?: number;
  /** The clock leases are measured by, ms. Default `Date.now`. */
  now?: () => number;
}

const { queued: QUEUED, leased: LEASED, done: DONE, failed: FAILED } = STATE_CODES;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS frontier_tasks (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  task TEXT NOT NULL UNIQUE,
  crawl TEXT NOT NULL,
  reload INTEGER NOT NULL,
  started_at INTEGER NOT NULL,
  definition TEXT,
  turns INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS frontier_hosts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  crawl INTEGER NOT NULL,
  host TEXT NOT NULL,
  origin TEXT NOT NULL,
  active INTEGER NOT NULL,
  high INTEGER NOT NULL,
  ready_at INTEGER NOT NULL,
  turn INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS frontier_hosts_key ON frontier_hosts (crawl, host);
CREATE INDEX IF NOT EXISTS frontier_hosts_ready
  ON frontier_hosts (crawl, high, ready_at, turn) WHERE active = 1;
CREATE TABLE IF NOT EXISTS frontier_urls (
  id INTEGER PRIMARY KEY,
  crawl INTEGER NOT NULL,
  host INTEGER NOT NULL,
  key INTEGER,
  url TEXT NOT NULL,
  state INTEGER NOT NULL,
  high INTEGER NOT NULL,
  due_at INTEGER NOT NULL,
  generation INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  depth INTEGER NOT NULL,
  priority INTEGER NOT NULL,
  rule TEXT NOT NULL,
  method TEXT,
  tmp TEXT,
  owner TEXT,
  lease_until INTEGER,
  error TEXT,
  fetched_at INTEGER,
  etag TEXT,
  modified TEXT,
  hash TEXT,
  interval_ms INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS frontier_urls_key ON frontier_urls (crawl, key);
CREATE INDEX IF NOT EXISTS frontier_urls_queue
  ON frontier_urls (host, high DESC, id) WHERE state = ${QUEUED};
CREATE INDEX IF NOT EXISTS frontier_urls_leases
  ON frontier_urls (crawl, lease_until) WHERE state = ${LEASED};
CREATE INDEX IF NOT EXISTS frontier_urls_failed ON frontier_urls (crawl) WHERE state = ${FAILED};
`;

interface UrlRow extends PageColumns {
  id: number;
  host: number;
  generation: number;
  url: string;
  method: string | null;
  depth: number;
  priority: number;
  rule: string;
  tmp: string | null;
  attempts: number;
  high: number;
}

interface TaskRow {
  id: number;
  crawl: string;
  reload: number;
  started_at: number;
  definition: string | null;
  turns: number;
}

interface HostRow {
  id: number;
  origin: string;
}

/** A host's origin as read: "" stored for an origin spelled as the host key. */
const ORIGIN = "CASE WHEN origin = '' THEN host ELSE origin END AS origin";

/** Host rows remembered per frontier: ids are never reused, so an entry never goes stale. */
const HOST_CACHE_MAX = 4096;

export class SqliteFrontier implements Frontier {
  readonly #db: DatabaseSync;
  readonly #now: () => number;
  readonly #statements = new Map<string, StatementSync>();
  /** `crawl id + host` → the host's row, most recently used last. */
  readonly #hosts = new Map<string, HostRow>();
  #closed = false;

  constructor(path: string, options: SqliteFrontierOptions = {}) {
    this.#db = openSqlite(path, { busyTimeoutMs: options.busyTimeoutMs ?? 10_000 });
    this.#now = options.now ?? Date.now;
    try {
      this.#transaction(() => {
        this.#db.exec(SCHEMA + HOSTS_TABLE_SQLITE);
        this.#addPageColumns();
        this.#migrateV1();
      });
    } catch (error) {
      this.#db.close();
      throw error;
    }
  }

  begin(task: string, options: BeginOptions): Promise<Opening> {
    return this.#async(() =>
      this.#transaction((): Opening => {
        const current = this.#task(task);
        let reason: NewCrawlReason | undefined;
        if (!current) reason = "first";
        else if (options.fresh) reason = "fresh";
        else if (options.crawl !== undefined && options.crawl !== current.crawl) {
          reason = "replaced";
        } else if (
          options.definition !== undefined && current.definition !== null &&
          options.definition !== current.definition
        ) {
          reason = "changed";
        } else if (options.crawl === undefined && !this.#active(current.id)) reason = "finished";
        const reload = options.reload ? 1 : 0;
        if (reason === undefined) {
          const id = current!.id;
          this.#run(
            "UPDATE frontier_tasks SET reload = ?, definition = coalesce(?, definition) WHERE id = ?",
            reload,
            options.definition ?? null,
            id,
          );
          if (options.owner !== undefined) {
            const hosts = this.#statement(
              `UPDATE frontier_urls SET state = ${QUEUED}, owner = NULL, lease_until = NULL
               WHERE crawl = ? AND state = ${LEASED} AND owner = ? RETURNING host, high`,
            ).all(id, options.owner) as unknown as Array<{ host: number; high: number }>;
            this.#activate(hosts);
          }
          return {
            mode: "resumed",
            crawl: current!.crawl,
            startedAt: current!.started_at,
            counts: this.#counts(id),
          };
        }
        if (current) this.#deleteCrawl(current.id);
        const crawl = options.crawl ?? crypto.randomUUID();
        const startedAt = this.#now();
        const row = this.#statement(
          `INSERT INTO frontier_tasks (task, crawl, reload, started_at, definition)
           VALUES (?, ?, ?, ?, ?) RETURNING id`,
        ).get(task, crawl, reload, startedAt, options.definition ?? null) as { id: number };
        this.#insert(row.id, reload === 1, options.roots);
        return {
          mode: "new",
          reason,
          ...(reason === "changed"
            ? { changed: changedParts(current!.definition!, options.definition!) }
            : {}),
          crawl,
          startedAt,
          counts: this.#counts(row.id),
        };
      })
    );
  }

  add(task: string, requests: readonly CrawlRequest[]): Promise<number> {
    return this.#async(() =>
      this.#transaction(() => {
        const current = this.#task(task);
        if (!current) throw new Error(`task "${task}" has no crawl: begin it first`);
        return this.#insert(current.id, current.reload === 1, requests);
      })
    );
  }

  claim(task: string, options: ClaimOptions): Promise<Claim[]> {
    return this.#async(() =>
      this.#transaction(() => {
        const current = this.#task(task);
        if (!current) return [];
        const crawl = current.id;
        const now = this.#now();
        this.#expireLeases(crawl, now);
        const perHost = Math.max(1, options.perHost ?? options.limit);
        // A host handed out goes behind the hosts ready now, or waits its hold.
        const readyAfter = now + Math.max(0, options.hostHoldMs ?? 0);
        const rows: Array<UrlRow & { origin: string }> = [];
        /** Hosts served in this claim: each takes one turn per claim. */
        const served = new Set<number>();
        // Hosts served by one claim share a turn number: hosts ready at the same ms are served
        // by turn, so none waits behind the others twice.
        const turn = current.turns + 1;
        this.#run("UPDATE frontier_tasks SET turns = ? WHERE id = ?", turn, crawl);
        // Hosts with priority requests first, then the others; each walk stops at `limit`.
        for (const high of [1, 0]) {
          while (rows.length < options.limit) {
            const hosts = this.#statement(
              `SELECT h.id, CASE WHEN h.origin = '' THEN h.host ELSE h.origin END AS origin, h.ready_at${
                options.skipHostsNotDue ? ", p.due_at AS polite_at" : ""
              }
               FROM frontier_hosts h${
                options.skipHostsNotDue ? " LEFT JOIN crawler_hosts p ON p.host = h.host" : ""
              }
               WHERE h.crawl = ? AND h.active = 1 AND h.high = ? AND h.ready_at <= ?
               ORDER BY h.ready_at, h.turn, h.id LIMIT ?`,
            ).all(crawl, high, now, options.limit - rows.length + served.size) as unknown as Array<
              { id: number; origin: string; ready_at: number; polite_at?: number | null }
            >;
            const fresh = hosts.filter((host) => !served.has(host.id));
            if (fresh.length === 0) break;
            for (const host of fresh) {
              if (rows.length >= options.limit) break;
              served.add(host.id);
              if (host.polite_at && host.polite_at > now) {
                // Another task or worker used the host: skip it until politeness allows.
                this.#run(
                  "UPDATE frontier_hosts SET ready_at = ? WHERE id = ?",
                  host.polite_at,
                  host.id,
                );
                continue;
              }
              const taken = this.#statement(
                `UPDATE frontier_urls
                 SET state = ${LEASED}, generation = generation + 1, owner = ?, lease_until = ?
                 WHERE id IN (
                   SELECT id FROM frontier_urls
                   WHERE host = ? AND state = ${QUEUED} AND due_at <= ?
                   ORDER BY high DESC, id LIMIT ?)
                 RETURNING id, host, generation, url, method, depth, priority, rule, tmp,
                   attempts, high, ${PAGE_COLUMNS.join(", ")}`,
              ).all(
                options.owner,
                now + options.leaseMs,
                host.id,
                now,
                Math.min(perHost, options.limit - rows.length),
              ) as unknown as UrlRow[];
              if (taken.length === 0) {
                this.#settleHost(host.id, now);
                continue;
              }
              for (const row of taken) rows.push({ ...row, origin: host.origin });
              const highLeft = high === 1 && this.#statement(
                `SELECT high FROM frontier_urls WHERE host = ? AND state = ${QUEUED}
                     ORDER BY high DESC, id LIMIT 1`,
              ).get(host.id) as { high: number } | undefined;
              this.#run(
                `UPDATE frontier_hosts SET ready_at = ?, turn = ?, high = ? WHERE id = ?`,
                readyAfter,
                turn,
                high === 1 ? highLeft ? highLeft.high : 0 : 0,
                host.id,
              );
            }
          }
        }
        rows.sort((a, b) => b.high - a.high || a.id - b.id);
        return rows.map((row) => toClaim(task, current.crawl, row));
      })
    );
  }

  complete(outcomes: readonly Outcome[]): Promise<boolean[]> {
    return this.#async(() =>
      this.#transaction(() => {
        const now = this.#now();
        const tasks = new Map<string, TaskRow | undefined>();
        /** Hosts whose next turn an outcome told, by row id: the latest word wins. */
        const hostWaits = new Map<number, number>();
        const requeued: Array<{ host: number; high: number }> = [];
        const counted = outcomes.map((outcome) => {
          const { claim } = outcome;
          if (!tasks.has(claim.task)) tasks.set(claim.task, this.#task(claim.task));
          const current = tasks.get(claim.task);
          if (!current || current.crawl !== claim.crawl) return false;
          let row: { host: number; high: number } | undefined;
          if (outcome.kind === "done" && outcome.revisit) {
            // A page of a recrawl task: queued again for its next visit, with what it answered.
            const page = outcome.revisit;
            row = this.#statement(
              `UPDATE frontier_urls SET state = ${QUEUED}, owner = NULL, lease_until = NULL,
                 attempts = 0, error = NULL, due_at = ?, fetched_at = ?, etag = ?, modified = ?,
                 hash = ?, interval_ms = ?
               WHERE id = ? AND generation = ? AND state = ${LEASED} RETURNING host, high`,
            ).get(
              now + page.intervalMs,
              page.fetchedAt,
              page.etag ?? null,
              page.lastModified ?? null,
              page.hash ?? null,
              page.intervalMs,
              claim.id,
              claim.generation,
            ) as typeof row;
            if (row) requeued.push(row);
            if (row || current.reload === 0) {
              this.#insert(current.id, current.reload === 1, outcome.children);
            }
          } else if (outcome.kind === "done") {
            row = this.#statement(
              `UPDATE frontier_urls SET state = ${DONE}, owner = NULL, lease_until = NULL
               WHERE id = ? AND generation = ? AND state = ${LEASED} RETURNING host, high`,
            ).get(claim.id, claim.generation) as typeof row;
            if (row || current.reload === 0) {
              this.#insert(current.id, current.reload === 1, outcome.children);
            }
          } else {
            const uncounted = outcome.counted === false;
            const retry = uncounted || claim.request.attempt + 1 <= outcome.retries;
            // A recrawl task's page failed for good is visited again later, attempts anew.
            const revisit = !retry && outcome.revisitAfterMs !== undefined;
            // It counts as visited then (scheduled, with the validators it had).
            row = this.#statement(
              `UPDATE frontier_urls SET state = ?, attempts = ?, due_at = ?,
                 error = ?, owner = NULL, lease_until = NULL,
                 fetched_at = CASE WHEN ? THEN ? ELSE fetched_at END,
                 interval_ms = CASE WHEN ? THEN ? ELSE interval_ms END
               WHERE id = ? AND generation = ? AND state = ${LEASED} RETURNING host, high`,
            ).get(
              retry || revisit ? QUEUED : FAILED,
              revisit ? 0 : claim.request.attempt + (uncounted ? 0 : 1),
              now + (revisit ? outcome.revisitAfterMs! : (outcome.retryDelayMs ?? 0)),
              outcome.error,
              revisit ? 1 : 0,
              now,
              revisit ? 1 : 0,
              outcome.revisitAfterMs ?? null,
              claim.id,
              claim.generation,
            ) as typeof row;
            if (row && (retry || revisit)) requeued.push(row);
          }
          if (!row) return false;
          hostWaits.set(row.host, outcome.hostWaitMs ?? -1);
          return true;
        });
        this.#activate(requeued);
        for (const [host, waitMs] of hostWaits) {
          // Without word from politeness a hold ends now; with it, the host waits as told.
          if (waitMs < 0) {
            this.#run(
              "UPDATE frontier_hosts SET ready_at = min(ready_at, ?) WHERE id = ?",
              now,
              host,
            );
          } else {
            this.#run("UPDATE frontier_hosts SET ready_at = ? WHERE id = ?", now + waitMs, host);
          }
        }
        return counted;
      })
    );
  }

  extend(claims: readonly Claim[], leaseMs: number): Promise<void> {
    return this.#async(() =>
      this.#transaction(() => {
        const until = this.#now() + leaseMs;
        for (const claim of claims) {
          this.#run(
            `UPDATE frontier_urls SET lease_until = ?
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
        const now = this.#now();
        const returned: Array<{ host: number; high: number }> = [];
        for (const claim of claims) {
          const row = this.#statement(
            `UPDATE frontier_urls SET state = ${QUEUED}, owner = NULL, lease_until = NULL
             WHERE id = ? AND generation = ? AND state = ${LEASED} RETURNING host, high`,
          ).get(claim.id, claim.generation) as { host: number; high: number } | undefined;
          if (row) returned.push(row);
        }
        this.#activate(returned);
        for (const host of new Set(returned.map((r) => r.host))) {
          this.#run(
            "UPDATE frontier_hosts SET ready_at = min(ready_at, ?) WHERE id = ?",
            now,
            host,
          );
        }
      })
    );
  }

  nextDue(task: string): Promise<number | undefined> {
    return this.#async(() => {
      const current = this.#task(task);
      if (!current) return undefined;
      let next: number | undefined;
      for (const high of [1, 0]) {
        const row = this.#statement(
          `SELECT ready_at FROM frontier_hosts WHERE crawl = ? AND active = 1 AND high = ?
           ORDER BY ready_at LIMIT 1`,
        ).get(current.id, high) as { ready_at: number } | undefined;
        if (row && (next === undefined || row.ready_at < next)) next = row.ready_at;
      }
      // Leases that expire put their requests back: the next of them is due then.
      const lease = this.#statement(
        `SELECT lease_until FROM frontier_urls WHERE crawl = ? AND state = ${LEASED}
         ORDER BY lease_until LIMIT 1`,
      ).get(current.id) as { lease_until: number } | undefined;
      if (lease && (next === undefined || lease.lease_until < next)) next = lease.lease_until;
      return next === undefined ? undefined : Math.max(0, next - this.#now());
    });
  }

  counts(task: string): Promise<FrontierCounts> {
    return this.#async(() => {
      const current = this.#task(task);
      return current ? this.#counts(current.id) : emptyCounts();
    });
  }

  finished(task: string, options: { once?: boolean } = {}): Promise<boolean> {
    return this.#async(() => {
      const current = this.#task(task);
      if (!current) return true;
      if (!options.once) return !this.#active(current.id);
      // Run once: revisits not due yet wait for another run.
      return this.#statement(
        `SELECT 1 FROM frontier_urls WHERE crawl = ? AND (state = ${LEASED} OR
           (state = ${QUEUED} AND (fetched_at IS NULL OR due_at <= ?))) LIMIT 1`,
      ).get(current.id, this.#now()) === undefined;
    });
  }

  drop(task: string, options: DropOptions = {}): Promise<void> {
    return this.#async(() =>
      this.#transaction(() => {
        const current = this.#task(task);
        if (!current || (options.crawl !== undefined && options.crawl !== current.crawl)) return;
        this.#deleteCrawl(current.id);
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

  /** Adds requests to crawl `crawl`, creating their hosts; returns how many were new. */
  #insert(crawl: number, reload: boolean, requests: readonly CrawlRequest[]): number {
    if (requests.length === 0) return 0;
    const statement = this.#statement(
      `INSERT OR IGNORE INTO frontier_urls
         (crawl, host, key, url, state, high, due_at, generation, attempts, depth, priority, rule,
          method, tmp)
       VALUES (?, ?, ?, ?, ${QUEUED}, ?, 0, 0, 0, ?, ?, ?, ?, ?)`,
    );
    let added = 0;
    const activated: Array<{ host: number; high: number }> = [];
    for (const req of requests) {
      const host = this.#host(crawl, req.url);
      const high = req.priority > 0 ? 1 : 0;
      const result = statement.run(
        crawl,
        host.id,
        reload ? null : keyHash(urlKey(req.url, req.method)),
        compactUrl(req.url, host.origin),
        high,
        req.depth,
        req.priority,
        req.ruleName,
        req.method === "GET" ? null : req.method,
        req.tmp === undefined ? null : JSON.stringify(req.tmp),
      );
      if (Number(result.changes) > 0) {
        added++;
        activated.push({ host: host.id, high });
      }
    }
    this.#activate(activated);
    return added;
  }

  /** The row of `url`'s host in crawl `crawl`, created (not ready until activated) if new. */
  #host(crawl: number, url: string): HostRow {
    const parts = urlParts(url);
    const cacheKey = `${crawl} ${parts.host}`;
    let row = this.#hosts.get(cacheKey);
    if (row) {
      // Most recently used last: the first entry is the one to forget.
      this.#hosts.delete(cacheKey);
      this.#hosts.set(cacheKey, row);
      return row;
    }
    row = this.#statement(
      `SELECT id, ${ORIGIN} FROM frontier_hosts WHERE crawl = ? AND host = ?`,
    ).get(crawl, parts.host) as HostRow | undefined;
    row ??= this.#statement(
      `INSERT INTO frontier_hosts (crawl, host, origin, active, high, ready_at)
       VALUES (?, ?, ?, 0, 0, 0) RETURNING id, ${ORIGIN}`,
    ).get(crawl, parts.host, storedOrigin(parts)) as unknown as HostRow;
    this.#hosts.set(cacheKey, { id: row.id, origin: row.origin });
    if (this.#hosts.size > HOST_CACHE_MAX) {
      this.#hosts.delete(this.#hosts.keys().next().value!);
    }
    return row;
  }

  /** Marks hosts that got queued requests as having some (and priority ones, if so). */
  #activate(rows: ReadonlyArray<{ host: number; high: number }>): void {
    const hosts = new Map<number, number>();
    for (const row of rows) hosts.set(row.host, Math.max(hosts.get(row.host) ?? 0, row.high));
    for (const [host, high] of hosts) {
      this.#run(
        `UPDATE frontier_hosts SET active = 1, high = max(high, ?)
         WHERE id = ? AND (active = 0 OR high < ?)`,
        high,
        host,
        high,
      );
    }
  }

  /**
   * A ready host that gave nothing: its queued requests wait for a retry delay (the host is
   * ready when the first is due) or it has none (it leaves the ready index).
   */
  #settleHost(host: number, now: number): void {
    const next = this.#statement(
      `SELECT min(due_at) AS due, max(high) AS high FROM frontier_urls
       WHERE host = ? AND state = ${QUEUED}`,
    ).get(host) as { due: number | null; high: number | null };
    if (next.due === null) {
      this.#run("UPDATE frontier_hosts SET active = 0, high = 0 WHERE id = ?", host);
    } else {
      this.#run(
        "UPDATE frontier_hosts SET ready_at = ?, high = ? WHERE id = ?",
        Math.max(next.due, now),
        next.high ?? 0,
        host,
      );
    }
  }

  /** Requests whose lease ran out go back to the queue (and their hosts to the ready ones). */
  #expireLeases(crawl: number, now: number): void {
    const expired = this.#statement(
      `UPDATE frontier_urls SET state = ${QUEUED}, owner = NULL, lease_until = NULL
       WHERE crawl = ? AND state = ${LEASED} AND lease_until < ? RETURNING host, high`,
    ).all(crawl, now) as unknown as Array<{ host: number; high: number }>;
    if (expired.length === 0) return;
    this.#activate(expired);
    for (const host of new Set(expired.map((r) => r.host))) {
      this.#run("UPDATE frontier_hosts SET ready_at = min(ready_at, ?) WHERE id = ?", now, host);
    }
  }

  #deleteCrawl(crawl: number): void {
    this.#run("DELETE FROM frontier_urls WHERE crawl = ?", crawl);
    this.#run("DELETE FROM frontier_hosts WHERE crawl = ?", crawl);
    this.#run("DELETE FROM frontier_tasks WHERE id = ?", crawl);
  }

  #task(task: string): TaskRow | undefined {
    return this.#statement(
      "SELECT id, crawl, reload, started_at, definition, turns FROM frontier_tasks WHERE task = ?",
    ).get(task) as TaskRow | undefined;
  }

  /** True while something of the crawl is leased, or queued on a host that has some. */
  #active(crawl: number): boolean {
    if (
      this.#statement(
        `SELECT 1 FROM frontier_urls WHERE crawl = ? AND state = ${LEASED} LIMIT 1`,
      ).get(crawl) !== undefined
    ) return true;
    return this.#statement(
      `SELECT 1 FROM frontier_hosts h
       WHERE h.crawl = ? AND h.active = 1 AND EXISTS (
         SELECT 1 FROM frontier_urls u WHERE u.host = h.id AND u.state = ${QUEUED})
       LIMIT 1`,
    ).get(crawl) !== undefined;
  }

  #counts(crawl: number): FrontierCounts {
    const count = (sql: string, ...params: number[]) =>
      (this.#statement(sql).get(crawl, ...params) as { n: number }).n;
    const total = count("SELECT count(*) AS n FROM frontier_urls WHERE crawl = ?");
    const queued = count(
      `SELECT count(*) AS n FROM frontier_urls
       WHERE host IN (SELECT id FROM frontier_hosts WHERE crawl = ?) AND state = ${QUEUED}`,
    );
    const leased = count(
      `SELECT count(*) AS n FROM frontier_urls WHERE crawl = ? AND state = ${LEASED}`,
    );
    const expired = count(
      `SELECT count(*) AS n FROM frontier_urls
       WHERE crawl = ? AND state = ${LEASED} AND lease_until < ?`,
      this.#now(),
    );
    const failed = count(
      `SELECT count(*) AS n FROM frontier_urls WHERE crawl = ? AND state = ${FAILED}`,
    );
    const now = this.#now();
    const { scheduled, due, next } = this.#statement(
      `SELECT count(*) AS scheduled, coalesce(sum(due_at <= ?), 0) AS due,
         min(CASE WHEN due_at > ? THEN due_at END) AS next
       FROM frontier_urls WHERE crawl = ? AND state = ${QUEUED} AND fetched_at IS NOT NULL`,
    ).get(now, now, crawl) as { scheduled: number; due: number; next: number | null };
    return {
      queued: queued - scheduled + expired,
      leased: leased - expired,
      done: total - queued - leased - failed,
      failed,
      scheduled,
      due,
      ...(next !== null && { nextRevisitMs: next - now }),
    };
  }

  /** Adds the page columns to a frontier file written before revisits. */
  #addPageColumns(): void {
    const have = new Set(
      (this.#db.prepare("PRAGMA table_info(frontier_urls)").all() as Array<{ name: string }>)
        .map((c) => c.name),
    );
    const types: Record<(typeof PAGE_COLUMNS)[number], string> = {
      fetched_at: "INTEGER",
      etag: "TEXT",
      modified: "TEXT",
      hash: "TEXT",
      interval_ms: "INTEGER",
    };
    for (const column of PAGE_COLUMNS) {
      if (!have.has(column)) {
        this.#db.exec(`ALTER TABLE frontier_urls ADD COLUMN ${column} ${types[column]}`);
      }
    }
  }

  /** Moves the requests of a frontier file written before hosts had their own table. */
  #migrateV1(): void {
    const old = this.#db.prepare(
      "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'frontier_requests'",
    ).get();
    if (!old) return;
    const crawls = this.#db.prepare("SELECT task, crawl, reload, started_at FROM frontier_crawls")
      .all() as unknown as Array<
        { task: string; crawl: string; reload: number; started_at: number }
      >;
    for (const c of crawls) {
      const { id } = this.#db.prepare(
        `INSERT INTO frontier_tasks (task, crawl, reload, started_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (task) DO NOTHING RETURNING id`,
      ).get(c.task, c.crawl, c.reload, c.started_at) as { id: number } ?? { id: -1 };
      if (id < 0) continue;
      const rows = this.#db.prepare(
        `SELECT url, method, depth, priority, rule, tmp, state, attempts, error
         FROM frontier_requests WHERE task = ? ORDER BY id`,
      ).all(c.task) as unknown as Array<
        CrawlRequest & { rule: string; tmp: string | null; state: number; error: string | null }
      >;
      this.#insert(
        id,
        c.reload === 1,
        rows.map((r) => ({
          url: r.url,
          method: r.method,
          depth: r.depth,
          priority: r.priority,
          ruleName: r.rule,
          attempt: 0,
          ...(r.tmp === null ? {} : { tmp: JSON.parse(r.tmp) }),
        })),
      );
      // Done and failed requests stay so; leased ones were lost with their worker: queued.
      const finished = this.#db.prepare(
        `SELECT url, method, state, attempts, error FROM frontier_requests
         WHERE task = ? AND state IN (${DONE}, ${FAILED})`,
      ).all(c.task) as unknown as Array<
        { url: string; method: string; state: number; attempts: number; error: string | null }
      >;
      const mark = this.#db.prepare(
        "UPDATE frontier_urls SET state = ?, attempts = ?, error = ? WHERE crawl = ? AND key = ?",
      );
      for (const r of finished) {
        mark.run(r.state, r.attempts, r.error, id, keyHash(urlKey(r.url, r.method)));
      }
      for (
        const host of this.#db.prepare("SELECT id FROM frontier_hosts WHERE crawl = ?").all(id)
      ) {
        this.#settleHost((host as { id: number }).id, 0);
      }
    }
    this.#db.exec("DROP TABLE frontier_requests; DROP TABLE frontier_crawls;");
  }

  #run(sql: string, ...params: Array<string | number | bigint | null>): number {
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
      // Host rows created in the undone transaction are gone again.
      this.#hosts.clear();
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

function toClaim(task: string, crawl: string, row: UrlRow & { origin: string }): Claim {
  const request: CrawlRequest = {
    url: expandUrl(row.url, row.origin),
    method: row.method ?? "GET",
    depth: row.depth,
    priority: row.priority,
    ruleName: row.rule,
    attempt: row.attempts,
  };
  if (row.tmp !== null) request.tmp = JSON.parse(row.tmp);
  const claim: Claim = { id: row.id, generation: row.generation, task, crawl, request };
  const page = pageRecordOf(row);
  return page ? { ...claim, page } : claim;
}
