/**
 * @module
 * An in-process {@linkcode Frontier} for unit tests and `frontier.url = "memory:"`: the same
 * contract as the durable ones, nothing kept across a restart.
 */
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
  type RequestState,
} from "./frontier.ts";
import { urlKey } from "./url_key.ts";

/** Options for {@linkcode MemoryFrontier}. */
export interface MemoryFrontierOptions {
  /** The clock leases are measured by, ms. Default `Date.now`. */
  now?: () => number;
}

interface Row {
  id: number;
  request: CrawlRequest;
  high: boolean;
  state: RequestState;
  dueAt: number;
  generation: number;
  owner?: string;
  leaseUntil: number;
}

interface Crawl {
  id: string;
  startedAt: number;
  reload: boolean;
  rows: Map<number, Row>;
  keys: Set<string>;
  /** Queued rows, first to claim on top; may hold rows no longer queued (skipped when popped). */
  queue: RowHeap;
  /** Leased rows, checked for expiry at each claim. */
  leased: Set<Row>;
}

export class MemoryFrontier implements Frontier {
  readonly #now: () => number;
  readonly #crawls = new Map<string, Crawl>();
  #nextId = 1;

  constructor(options: MemoryFrontierOptions = {}) {
    this.#now = options.now ?? Date.now;
  }

  begin(task: string, options: BeginOptions): Promise<Opening> {
    const current = this.#crawls.get(task);
    const active = current ? this.#active(current) : false;
    let reason: NewCrawlReason;
    if (!current) reason = "first";
    else if (options.fresh) reason = "fresh";
    else if (options.crawl !== undefined && options.crawl !== current.id) reason = "replaced";
    else if (options.crawl === undefined && !active) reason = "finished";
    else {
      current.reload = options.reload ?? false;
      if (options.owner !== undefined) {
        for (const row of current.leased) {
          if (row.owner === options.owner) this.#requeue(current, row);
        }
      }
      return Promise.resolve({
        mode: "resumed",
        crawl: current.id,
        startedAt: current.startedAt,
        counts: this.#counts(current),
      });
    }
    const crawl: Crawl = {
      id: options.crawl ?? crypto.randomUUID(),
      startedAt: this.#now(),
      reload: options.reload ?? false,
      rows: new Map(),
      keys: new Set(),
      queue: new RowHeap(),
      leased: new Set(),
    };
    this.#crawls.set(task, crawl);
    this.#insert(crawl, options.roots);
    return Promise.resolve({
      mode: "new",
      reason,
      crawl: crawl.id,
      startedAt: crawl.startedAt,
      counts: this.#counts(crawl),
    });
  }

  add(task: string, requests: readonly CrawlRequest[]): Promise<number> {
    const crawl = this.#crawls.get(task);
    if (!crawl) return Promise.reject(new Error(`task "${task}" has no crawl: begin it first`));
    return Promise.resolve(this.#insert(crawl, requests));
  }

  claim(task: string, options: ClaimOptions): Promise<Claim[]> {
    const crawl = this.#crawls.get(task);
    if (!crawl) return Promise.resolve([]);
    const now = this.#now();
    for (const row of crawl.leased) if (row.leaseUntil < now) this.#requeue(crawl, row);
    const claims: Claim[] = [];
    const notDue: Row[] = [];
    while (claims.length < options.limit) {
      const row = crawl.queue.pop();
      if (!row) break;
      if (row.state !== "queued") continue;
      if (row.dueAt > now) {
        notDue.push(row);
        continue;
      }
      row.state = "leased";
      row.generation++;
      row.owner = options.owner;
      row.leaseUntil = now + options.leaseMs;
      crawl.leased.add(row);
      claims.push({
        id: row.id,
        generation: row.generation,
        task,
        crawl: crawl.id,
        // Copies, as the durable frontiers hand out: a caller changing its claim changes nothing
        // here. Shallow: `tmp` is the rule's to keep, as a parsed row's would be.
        request: { ...row.request },
      });
    }
    for (const row of notDue) crawl.queue.push(row);
    return Promise.resolve(claims);
  }

  complete(outcomes: readonly Outcome[]): Promise<boolean[]> {
    const now = this.#now();
    return Promise.resolve(outcomes.map((outcome) => {
      const crawl = this.#crawls.get(outcome.claim.task);
      if (!crawl || crawl.id !== outcome.claim.crawl) return false;
      const row = this.#current(crawl, outcome.claim);
      if (outcome.kind === "done") {
        if (row || !crawl.reload) this.#insert(crawl, outcome.children);
        if (!row) return false;
        row.state = "done";
        row.owner = undefined;
        crawl.leased.delete(row);
        return true;
      }
      if (!row) return false;
      if (outcome.counted !== false) row.request.attempt++;
      if (outcome.counted !== false && row.request.attempt > outcome.retries) {
        row.state = "failed";
        row.owner = undefined;
        crawl.leased.delete(row);
      } else {
        row.dueAt = now + (outcome.retryDelayMs ?? 0);
        this.#requeue(crawl, row);
      }
      return true;
    }));
  }

  extend(claims: readonly Claim[], leaseMs: number): Promise<void> {
    const now = this.#now();
    for (const claim of claims) {
      const crawl = this.#crawls.get(claim.task);
      const row = crawl?.id === claim.crawl ? this.#current(crawl, claim) : undefined;
      if (row) row.leaseUntil = now + leaseMs;
    }
    return Promise.resolve();
  }

  release(claims: readonly Claim[]): Promise<void> {
    for (const claim of claims) {
      const crawl = this.#crawls.get(claim.task);
      const row = crawl?.id === claim.crawl ? this.#current(crawl, claim) : undefined;
      if (row) this.#requeue(crawl!, row);
    }
    return Promise.resolve();
  }

  counts(task: string): Promise<FrontierCounts> {
    const crawl = this.#crawls.get(task);
    return Promise.resolve(crawl ? this.#counts(crawl) : emptyCounts());
  }

  finished(task: string): Promise<boolean> {
    const crawl = this.#crawls.get(task);
    return Promise.resolve(!crawl || !this.#active(crawl));
  }

  drop(task: string, options: DropOptions = {}): Promise<void> {
    const crawl = this.#crawls.get(task);
    if (crawl && (options.crawl === undefined || options.crawl === crawl.id)) {
      this.#crawls.delete(task);
    }
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  #insert(crawl: Crawl, requests: readonly CrawlRequest[]): number {
    let added = 0;
    for (const request of requests) {
      if (!crawl.reload) {
        const key = urlKey(request.url, request.method);
        if (crawl.keys.has(key)) continue;
        crawl.keys.add(key);
      }
      const id = this.#nextId++;
      const row: Row = {
        id,
        request: { ...request, attempt: 0 },
        high: request.priority > 0,
        state: "queued",
        dueAt: 0,
        generation: 0,
        leaseUntil: 0,
      };
      crawl.rows.set(id, row);
      crawl.queue.push(row);
      added++;
    }
    return added;
  }

  /**
   * The row `claim` holds, if the claim is current: the request is leased and was not claimed
   * again since. A lease past its time that nobody has claimed again still counts.
   */
  #current(crawl: Crawl, claim: Claim): Row | undefined {
    const row = crawl.rows.get(claim.id);
    if (!row || row.state !== "leased" || row.generation !== claim.generation) return undefined;
    return row;
  }

  #requeue(crawl: Crawl, row: Row): void {
    row.state = "queued";
    row.owner = undefined;
    crawl.leased.delete(row);
    crawl.queue.push(row);
  }

  #active(crawl: Crawl): boolean {
    for (const row of crawl.rows.values()) {
      if (row.state === "queued" || row.state === "leased") return true;
    }
    return false;
  }

  #counts(crawl: Crawl): FrontierCounts {
    const counts = emptyCounts();
    const now = this.#now();
    for (const row of crawl.rows.values()) {
      const expired = row.state === "leased" && row.leaseUntil < now;
      counts[expired ? "queued" : row.state]++;
    }
    return counts;
  }
}

/** A binary min-heap of rows in claim order: priority rows first, then by id. */
class RowHeap {
  readonly #rows: Row[] = [];

  push(row: Row): void {
    const rows = this.#rows;
    rows.push(row);
    for (let i = rows.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (!before(rows[i], rows[parent])) break;
      [rows[i], rows[parent]] = [rows[parent], rows[i]];
      i = parent;
    }
  }

  pop(): Row | undefined {
    const rows = this.#rows;
    const top = rows[0];
    const last = rows.pop();
    if (rows.length > 0 && last) {
      rows[0] = last;
      for (let i = 0;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < rows.length && before(rows[l], rows[m])) m = l;
        if (r < rows.length && before(rows[r], rows[m])) m = r;
        if (m === i) break;
        [rows[i], rows[m]] = [rows[m], rows[i]];
        i = m;
      }
    }
    return top;
  }
}

function before(a: Row, b: Row): boolean {
  return a.high !== b.high ? a.high : a.id < b.id;
}
