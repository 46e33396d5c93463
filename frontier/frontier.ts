/**
 * @module
 * The frontier contract (docs/frontier.md, "The frontier"): every task's requests, durable and
 * shared by the workers that crawl the task. The engine pulls from it instead of an in-process
 * queue:
 *
 * - a task's requests belong to one **crawl** of it, opened with {@linkcode Frontier.begin}: an
 *   unfinished crawl is resumed (or joined, by another worker), a finished one or a different
 *   crawl id starts a new crawl with the roots;
 * - requests are deduplicated by a normalised URL key per task (`urlKey`) unless the crawl
 *   reloads;
 * - {@linkcode Frontier.claim} hands out due requests under a lease held by one claimer; no
 *   request is ever held by two claimers at once;
 * - {@linkcode Frontier.complete} acknowledges claims with the children each produced (one
 *   transaction per call) or records failures (retried until `retries` is used up, then failed);
 *   an acknowledgement whose claim is no longer current (its lease expired and the request was
 *   claimed again, or it was released) does not count;
 * - a lease that expires returns its request to the queue;
 * - a task is finished when nothing is queued and nothing leased, whichever worker holds what.
 *
 * Implementations: `MemoryFrontier` (tests), `SqliteFrontier` (the default, embedded),
 * `PostgresFrontier` (shared across machines). `frontier_contract_test.ts` runs one suite on
 * all three.
 *
 * Claims are host-aware (docs/frontier.md, "The frontier"): every crawl keeps a
 * table of its hosts with the time each is next ready, and a claim walks only the hosts that
 * are ready, oldest turn first, taking at most `perHost` requests from each. A host handed out
 * can be held (`hostHoldMs`) until an outcome of it says when the host is next due
 * (`hostWaitMs`), so a host with a politeness delay is never claimed only to be given back, and
 * hosts that are not due cost a claim nothing however many requests they have queued.
 */
import type { CrawlRequest } from "./crawl_request.ts";

/** Where a request stands. */
export type RequestState = "queued" | "leased" | "done" | "failed";

/**
 * A task's requests by state, as every worker of the task sees them. A leased request whose
 * lease has expired counts as queued.
 */
export interface FrontierCounts {
  /** Requests never fetched (or waiting for a retry). */
  queued: number;
  leased: number;
  done: number;
  failed: number;
  /**
   * Pages of a recrawl task fetched and waiting for their next visit (docs/frontier.md,
   * "Recrawl"), due now or later; 0 for other tasks.
   */
  scheduled: number;
  /** Of `scheduled`, those whose next visit is due now. */
  due: number;
  /**
   * How long until the first scheduled revisit not due yet falls due, ms from now; absent when
   * none is scheduled.
   */
  nextRevisitMs?: number;
}

/**
 * What a visit of a page left for the next one (docs/frontier.md, "Recrawl"): kept with the
 * request while it waits for its revisit, and handed back with its next claim.
 */
export interface PageRecord {
  /** When the page was last fetched, ms since the epoch. */
  fetchedAt: number;
  /** The interval its next visit was scheduled with, ms. */
  intervalMs: number;
  /** The `ETag` the page last answered with, sent back as `If-None-Match`. */
  etag?: string;
  /** The `Last-Modified` it last answered with, sent back as `If-Modified-Since`. */
  lastModified?: string;
  /** The hash of what its rule last made of it (`outputHash`). */
  hash?: string;
}

/** One request handed to one claimer. */
export interface Claim {
  /** The frontier's id of the request. */
  readonly id: number;
  /**
   * Which claim of the request this is (1 for the first). Only the latest claim of a request,
   * while its lease holds, may complete or release it.
   */
  readonly generation: number;
  readonly task: string;
  /** The crawl of the task the request belongs to. */
  readonly crawl: string;
  /** The request; `attempt` is the number of failures recorded so far. */
  readonly request: CrawlRequest;
  /** What its last visit left: a claim of a page revisited has it, a first claim not. */
  readonly page?: PageRecord;
}

/** Options for {@linkcode Frontier.begin}. */
export interface BeginOptions {
  /** The first requests of a new crawl (added only when a new crawl starts). */
  roots: readonly CrawlRequest[];
  /**
   * The crawl to run: in a cluster, the resource's ID, so every worker of the resource joins
   * one crawl and a new resource of the same name starts a new one. Without it (standalone),
   * the task's unfinished crawl is resumed and a finished one is replaced by a new crawl.
   */
  crawl?: string;
  /** Drop whatever the task has and start a new crawl. Default false. */
  fresh?: boolean;
  /**
   * The task's definition as a JSON object of named parts (roots, rules, reload, depth; each a
   * value or a digest). When the task's crawl was begun with another definition, a new crawl
   * starts (reason "changed", with the parts that differ) instead of resuming the old one's
   * URLs. Omitted: not compared.
   */
  definition?: string;
  /** Do not deduplicate: every request added is queued (the task's `Reload`). Default false. */
  reload?: boolean;
  /**
   * The claimer about to pull from this crawl. Its leases on the task from before (a process
   * that was killed and started again under the same worker id) are released at once instead
   * of waiting for them to expire.
   */
  owner?: string;
}

/** Why {@linkcode Frontier.begin} started a new crawl. */
export type NewCrawlReason =
  /** The task had no crawl. */
  | "first"
  /** `fresh` was asked for. */
  | "fresh"
  /** The task's last crawl had finished. */
  | "finished"
  /** The task's crawl had another id (a new resource of the same name). */
  | "replaced"
  /** The task's definition changed since its crawl began (`BeginOptions.definition`). */
  | "changed";

/** What {@linkcode Frontier.begin} found and did. */
export type Opening =
  & { crawl: string; counts: FrontierCounts; startedAt: number }
  & (
    | {
      mode: "new";
      reason: NewCrawlReason;
      /** With reason "changed": the parts of the definition that differ (`taskDefinition`). */
      changed?: string[];
    }
    | { mode: "resumed" }
  );

/** Options for {@linkcode Frontier.claim}. */
export interface ClaimOptions {
  /** Who claims: a worker id. Recorded with each lease. */
  owner: string;
  /** Most requests to hand out. */
  limit: number;
  /** How long the claims hold, ms, unless extended. */
  leaseMs: number;
  /**
   * Also leave out hosts that the politeness host table (`crawler_hosts`, in the same database)
   * says are not due, as another task or worker may have used them. The memory frontier has no
   * such table and ignores it. Default false.
   */
  skipHostsNotDue?: boolean;
  /** Most requests of one host in one claim. Default: no limit. */
  perHost?: number;
  /**
   * After a host's requests are handed out, the host is not handed out again for this long,
   * ms, unless an outcome of one of its requests says when it is due (`hostWaitMs`). A caller
   * that fetches a host one request at a time with a delay holds it for the lease time.
   * Default 0: the host goes to the back of the ready hosts.
   */
  hostHoldMs?: number;
}

/** A claimed request fetched and parsed: acknowledged together with what it produced. */
export interface DoneOutcome {
  kind: "done";
  claim: Claim;
  /** Requests found on the page (already checked against `MaxDepth`). */
  children: readonly CrawlRequest[];
  /** When the request's host is next due, ms from the commit (see `ClaimOptions.hostHoldMs`). */
  hostWaitMs?: number;
  /**
   * A page of a recrawl task: instead of done for good, it is queued again, due
   * `record.intervalMs` after the commit, its attempts reset, with `record` kept for the next
   * claim. Absent: done.
   */
  revisit?: PageRecord;
}

/** A claimed request that failed. */
export interface FailedOutcome {
  kind: "failed";
  claim: Claim;
  error: string;
  /**
   * Failures a request may have and still be tried again (`fetcher.retries`); 0 for a failure
   * that will not go away by retrying. Past it, the request is failed for good.
   */
  retries: number;
  /** How long a retried request waits before it is due again, ms. Default 0. */
  retryDelayMs?: number;
  /**
   * False for a request put back untried (its host was not due): it is queued again after
   * `retryDelayMs` without using one of its attempts. Default true.
   */
  counted?: boolean;
  /** When the request's host is next due, ms from the commit (see `ClaimOptions.hostHoldMs`). */
  hostWaitMs?: number;
  /**
   * A request of a recrawl task failed for good: it is queued again this long after the commit,
   * its attempts reset, as a page visited now with this interval (scheduled, not failed), its
   * validators and hash (if any) kept. Absent: failed for good.
   */
  revisitAfterMs?: number;
}

export type Outcome = DoneOutcome | FailedOutcome;

/** Options for {@linkcode Frontier.drop}. */
export interface DropOptions {
  /** Drop only if the task's crawl is this one (a newer crawl of the same name stays). */
  crawl?: string;
}

/** A task's durable requests: see the module doc. Every method may be called concurrently. */
export interface Frontier {
  /**
   * Opens the task's crawl for pulling: resumes it, joins it, or starts a new one with
   * `roots` (see {@linkcode BeginOptions}). Atomic: two workers beginning the same task at
   * once start one crawl between them.
   */
  begin(task: string, options: BeginOptions): Promise<Opening>;
  /**
   * Queues requests in the task's current crawl (deduplicated unless it reloads); resolves
   * with how many were new. Throws if the task has no crawl.
   */
  add(task: string, requests: readonly CrawlRequest[]): Promise<number>;
  /**
   * Leases up to `limit` due requests of the task to `owner`, from ready hosts only, fairly:
   * hosts whose turn is oldest first, at most `perHost` requests each; hosts with priority
   * requests (priority > 0) before the others, and within a host priority requests first, then
   * in the order they were added. Requests whose lease expired are claimable again. Resolves
   * with none when nothing is due; the claims come priority first, then by id.
   */
  claim(task: string, options: ClaimOptions): Promise<Claim[]>;
  /**
   * Records outcomes in one transaction: a done request with its children, a failure retried
   * or failed for good. Resolves with, per outcome, whether it counted: false when its claim
   * was no longer current (its children are still added, unless the crawl reloads or was
   * replaced, as a later claim of the page finds them anyway).
   */
  complete(outcomes: readonly Outcome[]): Promise<boolean[]>;
  /** Extends the leases of claims that are still current by `leaseMs` from now. */
  extend(claims: readonly Claim[], leaseMs: number): Promise<void>;
  /** Returns still-current claims to the queue at once, no failure counted (a task stopped). */
  release(claims: readonly Claim[]): Promise<void>;
  /**
   * How long until a claim of the task may find something, ms: 0 when a host is ready now,
   * undefined when no host has requests queued (only leased ones, or none). Scheduled revisits
   * count: a recrawl task waiting for its next visit says when that is.
   */
  nextDue(task: string): Promise<number | undefined>;
  /** The task's requests by state (zeros for a task without a crawl). */
  counts(task: string): Promise<FrontierCounts>;
  /**
   * True when nothing of the task is queued or leased (leases expired count as queued). With
   * `once`, revisits not due yet do not count: a recrawl task run once is finished when what
   * is due has been fetched.
   */
  finished(task: string, options?: { once?: boolean }): Promise<boolean>;
  /** Removes the task's crawl and requests (a deleted resource). */
  drop(task: string, options?: DropOptions): Promise<void>;
  /** Releases the connection or file. */
  close(): Promise<void>;
}

/**
 * The number each state is stored as in the SQL frontiers' `state` column, in one place for
 * both backends (and for tests that read the rows).
 */
export const STATE_CODES = Object.freeze(
  { queued: 0, leased: 1, done: 2, failed: 3 } as const satisfies Record<RequestState, number>,
);

/** All zeros. */
export function emptyCounts(): FrontierCounts {
  return { queued: 0, leased: 0, done: 0, failed: 0, scheduled: 0, due: 0 };
}

/** The named parts in which two definitions (`BeginOptions.definition`) differ. */
export function changedParts(before: string, after: string): string[] {
  const parse = (text: string): Record<string, unknown> => {
    try {
      const value = JSON.parse(text);
      return value !== null && typeof value === "object" ? value : { definition: text };
    } catch {
      return { definition: text };
    }
  };
  const a = parse(before);
  const b = parse(after);
  return [...new Set([...Object.keys(a), ...Object.keys(b)])]
    .filter((key) => JSON.stringify(a[key]) !== JSON.stringify(b[key]))
    .sort();
}
