/**
 * @module
 * An in-process {@linkcode Frontier} for unit tests and `frontier.url = "memory:"`: the same
 * contract as the durable ones, nothing kept across a restart. Like them it queues requests per
 * host and keeps the hosts that have some in a heap by the time each is next ready, so a claim
 * looks only at ready hosts.
 */
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
  type PageRecord,
  type RequestState,
} from "./frontier.ts";
import { urlHost, urlKey } from "./url_key.ts";
import { Heap } from "./_heap.ts";

/** Options for {@linkcode MemoryFrontier}. */
export interface MemoryFrontierOptions {
  /** The clock leases are measured by, ms. Default `Date.now`. */
  now?: () => number;
}

interface Row {
  id: number;
  request: CrawlRequest;
  host: Host;
  high: boolean;
  state: RequestState;
  dueAt: number;
  generation: number;
  owner?: string;
  leaseUntil: number;
  /** What its last visit left, for a page of a recrawl task waiting for its next. */
  page?: PageRecord;
}

interface Host {
  /** Queued rows, first to claim on top; may hold rows no longer queued (skipped when popped). */
  queue: Heap<Row>;
  readyAt: number;
  /** Bumped at every change: heap entries of an older version are stale. */
  version: number;
}

interface HostEntry {
  host: Host;
  readyAt: number;
  version: number;
  seq: number;
}

interface Crawl {
  id: string;
  startedAt: number;
  reload: boolean;
  definition?: string;
  rows: Map<number, Row>;
  keys: Set<string>;
  hosts: Map<string, Host>;
  /** Hosts with queued requests, by next ready time: those with priority requests, the rest. */
  ready: [Heap<HostEntry>, Heap<HostEntry>];
  /** Leased rows, checked for expiry at each claim. */
  leased: Set<Row>;
}

export class MemoryFrontier implements Frontier {
  readonly #now: () => number;
  readonly #crawls = new Map<string, Crawl>();
  #nextId = 1;
  #seq = 0;

  constructor(options: MemoryFrontierOptions = {}) {
    this.#now = options.now ?? Date.now;
  }

  begin(task: string, options: BeginOptions): Promise<Opening> {
    const current = this.#crawls.get(task);
    let reason: NewCrawlReason;
    if (!current) reason = "first";
    else if (options.fresh) reason = "fresh";
    else if (options.crawl !== undefined && options.crawl !== current.id) reason = "replaced";
    else if (
      options.definition !== undefined && current.definition !== undefined &&
      options.definition !== current.definition
    ) reason = "changed";
    else if (options.crawl === undefined && !this.#active(current)) reason = "finished";
    else {
      current.reload = options.reload ?? false;
      current.definition = options.definition ?? current.definition;
      if (options.owner !== undefined) {
        for (const row of current.leased) {
          if (row.owner === options.owner) this.#requeue(current, row, this.#now());
        }
      }
      return Promise.resolve({
        mode: "resumed",
        crawl: current.id,
        startedAt: current.startedAt,
        counts: this.#counts(current),
      });
    }
    const changed = reason === "changed"
      ? changedParts(current!.definition!, options.definition!)
      : undefined;
    const crawl: Crawl = {
      id: options.crawl ?? crypto.randomUUID(),
      startedAt: this.#now(),
      reload: options.reload ?? false,
      definition: options.definition,
      rows: new Map(),
      keys: new Set(),
      hosts: new Map(),
      ready: [new Heap(entryBefore), new Heap(entryBefore)],
      leased: new Set(),
    };
    this.#crawls.set(task, crawl);
    this.#insert(crawl, options.roots);
    return Promise.resolve({
      mode: "new",
      reason,
      ...(changed ? { changed } : {}),
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
    for (const row of crawl.leased) if (row.leaseUntil < now) this.#requeue(crawl, row, now);
    const perHost = Math.max(1, options.perHost ?? options.limit);
    const readyAfter = now + Math.max(0, options.hostHoldMs ?? 0);
    const claims: Claim[] = [];
    /** Hosts served in this claim: each takes one turn per claim. */
    const served = new Set<Host>();
    for (const heap of crawl.ready) {
      while (claims.length < options.limit) {
        const entry = heap.peek();
        if (!entry) break;
        if (entry.version !== entry.host.version) {
          heap.pop();
          continue;
        }
        if (entry.readyAt > now || served.has(entry.host)) break;
        heap.pop();
        const host = entry.host;
        served.add(host);
        const taken = this.#take(host, now, Math.min(perHost, options.limit - claims.length));
        for (const row of taken) {
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
            // Copies, as the durable frontiers hand out: a caller changing its claim changes
            // nothing here. Shallow: `tmp` is the rule's to keep, as a parsed row's would be.
            request: { ...row.request },
            ...(row.page ? { page: { ...row.page } } : {}),
          });
        }
        if (taken.length > 0) host.readyAt = readyAfter;
        this.#schedule(crawl, host);
      }
    }
    const high = (claim: Claim) => Number(claim.request.priority > 0);
    claims.sort((a, b) => high(b) - high(a) || a.id - b.id);
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
        if (outcome.revisit) {
          // A page of a recrawl task: queued again for its next visit, with what it answered.
          row.page = { ...outcome.revisit };
          row.request.attempt = 0;
          row.dueAt = now + outcome.revisit.intervalMs;
          this.#requeue(crawl, row, undefined);
        } else {
          row.state = "done";
          row.owner = undefined;
          crawl.leased.delete(row);
        }
      } else {
        if (!row) return false;
        if (outcome.counted !== false) row.request.attempt++;
        const failed = outcome.counted !== false && row.request.attempt > outcome.retries;
        if (failed && outcome.revisitAfterMs !== undefined) {
          // A recrawl task's page failed for good is visited again later, attempts anew.
          // It counts as visited then (scheduled, with the validators it had).
          row.request.attempt = 0;
          row.dueAt = now + outcome.revisitAfterMs;
          row.page = { ...row.page, fetchedAt: now, intervalMs: outcome.revisitAfterMs };
          this.#requeue(crawl, row, undefined);
        } else if (failed) {
          row.state = "failed";
          row.owner = undefined;
          crawl.leased.delete(row);
        } else {
          row.dueAt = now + (outcome.retryDelayMs ?? 0);
          this.#requeue(crawl, row, undefined);
        }
      }
      // Without word from politeness a hold ends now; with it, the host waits as told.
      const host = row.host;
      host.readyAt = outcome.hostWaitMs === undefined
        ? Math.min(host.readyAt, now)
        : now + outcome.hostWaitMs;
      this.#schedule(crawl, host);
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
    const now = this.#now();
    for (const claim of claims) {
      const crawl = this.#crawls.get(claim.task);
      const row = crawl?.id === claim.crawl ? this.#current(crawl, claim) : undefined;
      if (row) this.#requeue(crawl!, row, now);
    }
    return Promise.resolve();
  }

  nextDue(task: string): Promise<number | undefined> {
    const crawl = this.#crawls.get(task);
    if (!crawl) return Promise.resolve(undefined);
    let next: number | undefined;
    for (const heap of crawl.ready) {
      let entry = heap.peek();
      while (entry && entry.version !== entry.host.version) {
        heap.pop();
        entry = heap.peek();
      }
      if (entry && (next === undefined || entry.readyAt < next)) next = entry.readyAt;
    }
    for (const row of crawl.leased) {
      if (next === undefined || row.leaseUntil < next) next = row.leaseUntil;
    }
    return Promise.resolve(next === undefined ? undefined : Math.max(0, next - this.#now()));
  }

  counts(task: string): Promise<FrontierCounts> {
    const crawl = this.#crawls.get(task);
    return Promise.resolve(crawl ? this.#counts(crawl) : emptyCounts());
  }

  finished(task: string, options: { once?: boolean } = {}): Promise<boolean> {
    const crawl = this.#crawls.get(task);
    if (!crawl) return Promise.resolve(true);
    if (!options.once) return Promise.resolve(!this.#active(crawl));
    // Run once: revisits not due yet wait for another run.
    const now = this.#now();
    for (const row of crawl.rows.values()) {
      if (row.state === "leased") return Promise.resolve(false);
      if (row.state === "queued" && (!row.page || row.dueAt <= now)) {
        return Promise.resolve(false);
      }
    }
    return Promise.resolve(true);
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

  /** Up to `limit` queued rows of `host` that are due, in claim order. */
  #take(host: Host, now: number, limit: number): Row[] {
    const taken: Row[] = [];
    const notDue: Row[] = [];
    while (taken.length < limit) {
      const row = host.queue.pop();
      if (!row) break;
      if (row.state !== "queued") continue;
      if (row.dueAt > now) notDue.push(row);
      else taken.push(row);
    }
    for (const row of notDue) host.queue.push(row);
    if (taken.length === 0 && notDue.length > 0) {
      host.readyAt = Math.max(host.readyAt, Math.min(...notDue.map((row) => row.dueAt)));
    }
    return taken;
  }

  /** Puts the host in the heap its first queued row belongs to, if it has one. */
  #schedule(crawl: Crawl, host: Host): void {
    host.version++;
    let top = host.queue.peek();
    while (top && top.state !== "queued") {
      host.queue.pop();
      top = host.queue.peek();
    }
    if (!top) return;
    crawl.ready[top.high ? 0 : 1].push({
      host,
      readyAt: host.readyAt,
      version: host.version,
      seq: this.#seq++,
    });
  }

  #insert(crawl: Crawl, requests: readonly CrawlRequest[]): number {
    let added = 0;
    const touched = new Set<Host>();
    for (const request of requests) {
      if (!crawl.reload) {
        const key = urlKey(request.url, request.method);
        if (crawl.keys.has(key)) continue;
        crawl.keys.add(key);
      }
      const hostKey = urlHost(request.url);
      let host = crawl.hosts.get(hostKey);
      if (!host) {
        host = { queue: new Heap(rowBefore), readyAt: 0, version: 0 };
        crawl.hosts.set(hostKey, host);
      }
      const id = this.#nextId++;
      const row: Row = {
        id,
        request: { ...request, attempt: 0 },
        host,
        high: request.priority > 0,
        state: "queued",
        dueAt: 0,
        generation: 0,
        leaseUntil: 0,
      };
      crawl.rows.set(id, row);
      host.queue.push(row);
      touched.add(host);
      added++;
    }
    for (const host of touched) this.#schedule(crawl, host);
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

  /** Back to its host's queue; with `now`, a hold on the host ends (the claim came back). */
  #requeue(crawl: Crawl, row: Row, now: number | undefined): void {
    row.state = "queued";
    row.owner = undefined;
    crawl.leased.delete(row);
    row.host.queue.push(row);
    if (now !== undefined) {
      row.host.readyAt = Math.min(row.host.readyAt, now);
      this.#schedule(crawl, row.host);
    }
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
    let next = Infinity;
    for (const row of crawl.rows.values()) {
      if (row.state === "queued" && row.page) {
        counts.scheduled++;
        if (row.dueAt <= now) counts.due++;
        else next = Math.min(next, row.dueAt);
        continue;
      }
      const expired = row.state === "leased" && row.leaseUntil < now;
      counts[expired ? "queued" : row.state]++;
    }
    if (next !== Infinity) counts.nextRevisitMs = next - now;
    return counts;
  }
}

/** Claim order within a host: priority rows first, then by id. */
function rowBefore(a: Row, b: Row): boolean {
  return a.high !== b.high ? a.high : a.id < b.id;
}

/** Hosts by next ready time, then in the order they were scheduled (round robin). */
function entryBefore(a: HostEntry, b: HostEntry): boolean {
  return a.readyAt !== b.readyAt ? a.readyAt < b.readyAt : a.seq < b.seq;
}
