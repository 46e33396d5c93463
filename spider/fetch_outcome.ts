/**
 * @module
 * What became of one claimed request in the engine ({@linkcode FetchOutcome}): a closed union
 * the fetch path builds and `Crawler` records in one place (its statistics, log and activity),
 * and the frontier's acknowledgement it turns into ({@linkcode frontierOutcome}).
 */
import type { Claim, Outcome, PageRecord } from "../frontier/frontier.ts";
import type { RevisitResult } from "./recrawl.ts";
import type { ResourceExhaustedError } from "./fetcher.ts";
import type { Item } from "./item.ts";
import type { CrawlRequest } from "../frontier/crawl_request.ts";

/** What every outcome has. */
export interface FetchOutcomeBase {
  /** The claimed request the outcome is of. */
  claim: Claim;
  /**
   * When the request's host is next due, ms from the commit, as politeness said when the
   * host's slot was given back (see `ClaimOptions.hostHoldMs`). Default: the host is ready.
   */
  hostWaitMs?: number;
}

/** Fetched and parsed: its items are stored and its children queued. */
export interface Done extends FetchOutcomeBase {
  /** Which outcome. */
  kind: "done";
  /** The page's links worth queueing (already checked against depth and the run's cache). */
  children: CrawlRequest[];
  /** The items the page's rule produced, stored before the page is acknowledged. */
  items: readonly Item[];
  /** The fields stored of each item (the rule's `itemFields`). Default: all of the item's. */
  itemFields?: readonly string[];
  /** Sitemap files (and feeds) the page was, and the page URLs they listed. */
  sitemap?: { files: number; urls: number };
  /**
   * The error its last fetch failed with, when its rule stood something in for the page
   * (`Rule.recover`: robots.txt missing, `/sitemap.xml` queued instead). Absent: fetched.
   */
  recovered?: unknown;
  /**
   * A page of a recrawl task: what its visit found, and the record it is queued again with for
   * its next (docs/frontier.md, "Recrawl"). An `unchanged` or `not-modified` page has no items
   * and no children; a `changed` one's rows it no longer outputs are deleted.
   */
  recrawl?: { result: RevisitResult; page: PageRecord };
}

/** Tried again later: it used one of its attempts. `error` is what the frontier records. */
export type Retry =
  & FetchOutcomeBase
  & { kind: "retry"; error: string }
  & (
    /** The fetch failed retriably, or the host is blocked: due again after `delayMs`. */
    | { reason: "fetch" | "host-blocked"; cause: unknown; delayMs: number }
    /** The host answered 429/503: it waits with its host's block, at most `MAX_THROTTLED` times. */
    | { reason: "throttled"; status?: number; retryAfterMs?: number }
    /** Its parse was lost with a parse worker (`TaskRun.retry`): fetched again at once. */
    | { reason: "parse-lost" }
  );

/** Failed for good: its attempts are used up, or retrying would not help. */
export interface Failed extends FetchOutcomeBase {
  /** Which outcome. */
  kind: "failed";
  /**
   * `fetch` and `host-blocked`: its last attempt failed; `no-rule`: the task has no rule of
   * the request's name; `error`: anything else thrown while it was processed.
   */
  reason: "fetch" | "host-blocked" | "no-rule" | "error";
  /** What the frontier records. */
  error: string;
  /** The error itself, for the log and the run's activity. */
  cause: unknown;
}

/**
 * Put back untried, without using an attempt: due again after `waitMs`. `error` is what the
 * frontier records.
 */
export type Deferred =
  & FetchOutcomeBase
  & { kind: "deferred"; waitMs: number; error: string }
  & (
    /** Its host's turn has not come (delay, Retry-After block, per-host limit). */
    | { reason: "not-due" }
    /** The process ran out of something (file descriptors): not the page's fault. */
    | { reason: "exhausted"; cause: ResourceExhaustedError }
    /** Politeness could not be asked (the host store's database is away). */
    | { reason: "politeness"; cause: unknown }
  );

/** Never fetched, for good: robots.txt disallows it. Acknowledged as done, with no children. */
export interface Dropped extends FetchOutcomeBase {
  /** Which outcome. */
  kind: "dropped";
  /** Why: the only reason so far. */
  reason: "disallowed";
  /** The request's host key, for the run's per-host counters. */
  host: string;
}

/**
 * The outcome of one claimed request, built by the engine's fetch path and recorded once by
 * `Crawler`. A run stopped while the request was in hand has none: its claim goes back to the
 * frontier with the run's others.
 */
export type FetchOutcome = Done | Retry | Failed | Deferred | Dropped;

/**
 * The frontier's acknowledgement of `outcome`. A retry is acknowledged as a failure the request
 * still has an attempt for, so the frontier queues it again; a failure as one it has none left.
 *
 * @example
 * ```ts
 * await frontier.complete([frontierOutcome({ kind: "deferred", reason: "not-due", claim,
 *   error: "host not due", waitMs: 500, hostWaitMs: 500 })]);
 * ```
 *
 * `revisitAfterMs`: the request belongs to a recrawl task, so a failure for good is visited
 * again after this long instead of failed for good.
 */
export function frontierOutcome(outcome: FetchOutcome, revisitAfterMs?: number): Outcome {
  const { claim, hostWaitMs } = outcome;
  const host = hostWaitMs === undefined ? {} : { hostWaitMs };
  switch (outcome.kind) {
    case "done":
      return {
        kind: "done",
        claim,
        children: outcome.children,
        ...host,
        ...(outcome.recrawl && { revisit: outcome.recrawl.page }),
      };
    case "dropped":
      return { kind: "done", claim, children: [], ...host };
    case "deferred":
      return {
        kind: "failed",
        claim,
        error: outcome.error,
        retries: 0,
        retryDelayMs: outcome.waitMs,
        counted: false,
        ...host,
      };
    case "retry":
      return {
        kind: "failed",
        claim,
        error: outcome.error,
        retries: claim.request.attempt + 1,
        ...("delayMs" in outcome ? { retryDelayMs: outcome.delayMs } : {}),
        ...host,
      };
    case "failed":
      return {
        kind: "failed",
        claim,
        error: outcome.error,
        retries: 0,
        ...host,
        ...(revisitAfterMs !== undefined && { revisitAfterMs }),
      };
  }
}
