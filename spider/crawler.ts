/**
 * @module
 * The engine: runs tasks concurrently over a shared pool of fetch slots. Each task run pulls
 * claimed requests from the task's crawl in the frontier, waits on its own limiter (so a
 * rate-limited task holds no slot another task could use), fetches, parses, and hands the
 * outcome — the page done with the children it found, or a failure — to a group commit that
 * stores the items and then acknowledges the batch in the frontier.
 */
import type { Logger } from "../log/logger.ts";
import { type Fetcher, FetchError, type FetchResponse, ResourceExhaustedError } from "./fetcher.ts";
import { HostTurns } from "./host_turns.ts";
import { urlHost } from "../frontier/url_key.ts";
import { ParseContext } from "./parse_context.ts";
import type { ParseResult, Rule } from "./rule_set.ts";
import type { Item } from "./item.ts";
import { Semaphore } from "./semaphore.ts";
import type { Task } from "./task.ts";
import { type FetchTurn, type Limiter, type RunFeed, type RunState, TaskRun } from "./task_run.ts";
import type { LimitSpec as LimitOptions } from "./limit_spec.ts";
import type { Claim, Frontier } from "../frontier/frontier.ts";
import type { CrawlRequest } from "../frontier/crawl_request.ts";
import { type Failed, type FetchOutcome, frontierOutcome, type Retry } from "./fetch_outcome.ts";
import { MemoryFrontier } from "../frontier/memory_frontier.ts";
import { GroupCommit } from "./group_commit.ts";
import { randomUserAgent } from "./user_agent.ts";
import {
  DEFAULT_TASK_POLITENESS,
  type HostPermit,
  type Politeness,
  type TaskPoliteness,
} from "./politeness/politeness.ts";
import { hostOutcomeOf } from "./politeness/host_outcome.ts";
import { renderOf } from "./browser/render_options.ts";
import type { HostOutcome } from "./politeness/host_state.ts";
import { delay } from "../async/delay.ts";
import { logWaiting } from "../errors/mod.ts";
import {
  nextInterval,
  outputHash,
  recrawlOf,
  type RecrawlPolicy,
  type RevisitResult,
} from "./recrawl.ts";
import type { PageRecord } from "../frontier/frontier.ts";

/** How many 429/503 answers one request may meet (each waited out) before it counts as failed. */
const MAX_THROTTLED = 5;
/** A host fetched at most this often keeps its connection between turns, ms of delay. */
const KEEP_ALIVE_MAX_DELAY_MS = 1000;
/** How long a request waits when politeness could not be asked about it, ms. */
const ADMIT_RETRY_MS = 1000;
/** How long a request waits after the process ran out of descriptors or memory, ms. */
const EXHAUSTED_BACKOFF_MS = 2000;
/** Running out of one resource is logged at most this often, ms. */
const EXHAUSTED_LOG_EVERY_MS = 60_000;
/** A host slot whose release failed is given back again this often, ms… */
const LATE_RELEASE_EVERY_MS = 1000;
/** …for this long (its lease has long freed it by then), ms. */
const LATE_RELEASE_FOR_MS = 60_000;

/** What a fetch learned of its host's next turn, for the claim's outcome. */
interface HostNote {
  waitMs?: number;
}

/** Where items go. `save` buffers; the sink flushes on its own schedule and at `flush()`. */
export interface ItemSink {
  /** Buffers `item`, of which `fields` of its data are stored. */
  save(item: Item, fields: readonly string[]): void;
  /**
   * Buffers, in order with the saves around it, the deletion of the rows of `task` that came
   * from the page `url` and whose key is not in `keep` (a revisited page that no longer outputs
   * them). Optional: a sink without it keeps such rows.
   */
  retire?(task: string, url: string, keep: readonly string[]): void;
  /** Resolves when everything saved so far is stored; rejects while the store is away. */
  flush(): Promise<void>;
}

/** Options for {@linkcode Crawler}. */
export interface CrawlerOptions {
  /** Fetches pages (HTTP, or a browser for tasks that render). Its owner closes it. */
  fetcher: Fetcher;
  /** Where the items go; flushed before the pages they came from are acknowledged. */
  sink: ItemSink;
  /** Where outcomes and the runs' trouble are logged. */
  logger: Logger;
  /** Builds a task's limiter from its `Limits`. */
  createLimiter: (limits: LimitOptions[]) => Limiter;
  /** Waits the task's random delay before a fetch (the Go project's WaitTime). */
  randomWait: (waitTimeSeconds: number, signal: AbortSignal) => Promise<void>;
  /**
   * Where every task's requests live. Default: an in-memory frontier (nothing survives the
   * process; the worker wiring opens the configured one).
   */
  frontier?: Frontier;
  /** This worker's id in the frontier's leases. Default "local". */
  owner?: string;
  /** Lease time of a claim, ms (renewed while held). Default 30000. */
  leaseMs?: number;
  /** Concurrent fetches across all tasks. Default 8. */
  concurrency?: number;
  /** Extra attempts for a fetch that failed with a retriable error. Default 1. */
  retries?: number;
  /** Wait before a failed request is tried again, ms. Default 200. */
  retryDelayMs?: number;
  /**
   * Runs a rule on a page fetched for `run`. Default: `rule.parse(ctx)` on this thread. The
   * worker wiring passes a `ParsePool` here, so declarative rules parse in workers and are
   * stopped when they run too long; a rejection counts the page as failed and the crawl goes on.
   */
  parseRule?: (rule: Rule, ctx: ParseContext, run: TaskRun) => Promise<ParseResult>;
  /**
   * robots.txt and the per-host schedule (docs/frontier.md, "Politeness"), with the settings of a
   * task that sets none. Its host store must share the frontier's database for claims to skip hosts
   * not due. Default: none (every claim fetched at once; unit tests of the engine alone).
   */
  politeness?: { gate: Politeness; defaults: TaskPoliteness };
}

/** Options for {@linkcode Crawler.start}. */
export interface StartOptions {
  /**
   * The crawl to join (a cluster resource's ID): every worker given the same id crawls one
   * frontier together, and a new id starts afresh. Default: resume the task's unfinished
   * crawl, or start a new one if the last finished.
   */
  crawl?: string;
  /** Start a new crawl, dropping what the frontier has for the task. */
  fresh?: boolean;
  /**
   * Fetch each page once, even of a recrawl task: nothing is scheduled again and the run
   * finishes once what is due has been fetched (the standalone worker's `--once`).
   */
  once?: boolean;
}

/** The error a task start gets when a run of that name is still going. */
export class TaskRunningError extends Error {
  /** The error for the task named `name`. */
  constructor(name: string) {
    super(`task "${name}" is already running`);
    this.name = "TaskRunningError";
  }
}

/**
 * The engine of one worker process: it runs tasks concurrently over a shared pool of fetch
 * slots, each task a {@linkcode TaskRun} pulling from the task's crawl in the frontier, and
 * records what became of every request it claimed (a {@linkcode FetchOutcome}) in one place.
 * Its owner (the standalone runner, or `ClusterWorker` through its task claims) starts and stops
 * runs, and ends it with `close()`, which stops every run and commits what they produced; the
 * frontier, fetcher and sink it was given stay open for their owner to close.
 *
 * @example
 * ```ts
 * const crawler = new Crawler({ fetcher, sink, logger, createLimiter, randomWait, frontier });
 * const run = crawler.start(task);
 * await run.done;
 * await crawler.close();
 * ```
 */
export class Crawler {
  readonly #options: Required<Omit<CrawlerOptions, "politeness">>;
  readonly #politeness: CrawlerOptions["politeness"];
  readonly #slots: Semaphore;
  readonly #runs = new Map<string, TaskRun>();
  /** Per run, resolves when its loops have ended and its claims are released. */
  readonly #closing = new Map<TaskRun, Promise<void>>();
  readonly #commits: GroupCommit;
  /** Frontier removals of deleted tasks under way. */
  readonly #drops = new Set<Promise<void>>();
  /** Requests of one host running in this process at once. */
  readonly #hostTurns = new HostTurns();
  /** When running out of each resource was last logged (performance.now() ms). */
  readonly #exhaustedLogged = new Map<string, number>();
  /** Host slots being given back again after their release failed (see `#releaseHost`). */
  readonly #lateReleases = new Set<Promise<void>>();
  /** Aborted by `close`: late releases stop (their leases free the slots). */
  readonly #shutdown = new AbortController();
  /** True from a failed host-slot release until one succeeds: logged once per outage. */
  #releaseFailing = false;
  /** True from a failed politeness check until one succeeds: logged once per outage. */
  #admitFailing = false;

  /** An engine with no runs; see {@linkcode CrawlerOptions} for the defaults. */
  constructor(options: CrawlerOptions) {
    this.#options = {
      concurrency: 8,
      retries: 1,
      retryDelayMs: 200,
      owner: "local",
      leaseMs: 30_000,
      ...options,
      frontier: options.frontier ?? new MemoryFrontier(),
      parseRule: options.parseRule ?? (async (rule, ctx) => await rule.parse(ctx)),
    };
    this.#politeness = options.politeness;
    this.#slots = new Semaphore(this.#options.concurrency);
    this.#commits = new GroupCommit({
      frontier: this.#options.frontier,
      sink: this.#options.sink,
      logger: this.#options.logger,
    });
  }

  /** The frontier the engine pulls from. */
  get frontier(): Frontier {
    return this.#options.frontier;
  }

  /** The live run of a task, if any. */
  run(name: string): TaskRun | undefined {
    return this.#runs.get(name);
  }

  /** Every live run. */
  runs(): TaskRun[] {
    return [...this.#runs.values()];
  }

  /**
   * Starts a run of the task: it opens the task's crawl in the frontier (resumed, joined or
   * new; see `run.opened`) and fetches until the crawl has finished. Throws `TaskRunningError`
   * if the task runs.
   */
  start(task: Task, options: StartOptions = {}): TaskRun {
    const name = task.options.name;
    if (this.#runs.has(name)) throw new TaskRunningError(name);
    const loops = Math.min(this.#options.concurrency, 64);
    // With politeness, claims take a host's turn as its limits allow: with a delay, one
    // request, the host held until the outcome says when it is due again.
    const polite = this.#politeness ? this.#settingsOf(task) : undefined;
    const { run, feed } = TaskRun.start(task, this.#options.createLimiter(task.options.limits), {
      frontier: this.#options.frontier,
      logger: this.#options.logger,
      owner: this.#options.owner,
      leaseMs: this.#options.leaseMs,
      batch: loops,
      crawl: options.crawl,
      fresh: options.fresh,
      once: options.once,
      hurry: () => this.#commits.hurry(),
      skipHostsNotDue: polite !== undefined,
      perHost: polite ? (polite.delayMs > 0 ? 1 : polite.perHostConcurrency) : undefined,
      hostHoldMs: polite && polite.delayMs > 0 ? this.#options.leaseMs : 0,
    });
    this.#runs.set(name, run);
    run.done.then((state) => this.#onDone(run, state));
    const log = this.#options.logger;
    run.opened.then((opening) => {
      if (opening.mode === "new" && opening.reason === "changed") {
        log.info(
          `task "${name}" changed (${opening.changed?.join(", ") ?? "definition"}): ` +
            "starting a new crawl",
          { task: name },
        );
      }
      log.info("task started", {
        task: name,
        url: task.options.url,
        crawl: opening.crawl,
        mode: opening.mode,
        frontier: opening.counts,
      });
    }, () => {/* the run reports it: it ends stopped */});
    const ended = Array.from({ length: loops }, () => this.#loop(run, feed));
    this.#closing.set(
      run,
      Promise.all(ended).then(() => this.#release(run, feed)).finally(() =>
        this.#closing.delete(run)
      ),
    );
    return run;
  }

  /**
   * Stops a task's run: nothing more is fetched and in-flight fetches are aborted; pages already
   * fetched are still acknowledged, the claims not fetched go back to the frontier.
   */
  stop(name: string): boolean {
    const run = this.#runs.get(name);
    if (!run) return false;
    // Forget it now, not when `done` settles, so the task can be started again at once.
    this.#runs.delete(name);
    run.stop();
    return true;
  }

  /**
   * Removes the task's crawl `crawl` from the frontier (a deleted resource): stops the task's
   * live run first, if any, and drops the rows once it has wound down. A newer crawl of the same
   * task is left alone. A failure is logged; `close` waits for it.
   */
  dropCrawl(name: string, crawl: string): void {
    const run = this.#runs.get(name);
    if (run) this.stop(name);
    const closing = (run && this.#closing.get(run)) ?? Promise.resolve();
    const dropped = closing
      .then(() => this.#options.frontier.drop(name, { crawl }))
      .catch((error) =>
        this.#options.logger.error("removing the task's frontier failed", { task: name, error })
      );
    this.#drops.add(dropped);
    dropped.finally(() => this.#drops.delete(dropped));
  }

  /** Resolves when every run now live has ended. */
  async idle(): Promise<void> {
    await Promise.all(this.runs().map((run) => run.done));
  }

  /**
   * Stops every run, waits for the fetch loops to wind down, commits the outcomes they produced
   * and returns unfetched claims to the frontier. The frontier stays open (its owner closes it).
   */
  async close(): Promise<void> {
    for (const run of this.runs()) this.stop(run.name);
    // Closing first bounds the retries: with the frontier gone, shutting down does not hang.
    const committed = this.#commits.close();
    this.#shutdown.abort();
    while (this.#closing.size > 0 || this.#drops.size > 0) {
      await Promise.all([...this.#closing.values(), ...this.#drops]);
    }
    await committed;
    await this.#commits.flush();
    await Promise.all(this.#lateReleases);
  }

  /**
   * Asks politeness (robots.txt, the host's schedule) about a claim: a host permit to fetch
   * with, or the claim's outcome without a fetch (disallowed, host blocked, host not due, or
   * politeness could not be asked); no outcome if the run stopped meanwhile.
   */
  async #admit(
    run: TaskRun,
    claim: Claim,
  ): Promise<{ permit?: HostPermit } | { outcome: FetchOutcome | undefined }> {
    if (!this.#politeness) return {};
    const signal = run.signal;
    let admission;
    try {
      admission = await this.#politeness.gate.admit(claim.request.url, this.#settings(run), signal);
      this.#admitFailing = false;
    } catch (error) {
      if (signal.aborted) return { outcome: undefined };
      const waiting = {
        kind: "deferred",
        claim,
        error: String(error),
        waitMs: ADMIT_RETRY_MS,
      } as const;
      // robots.txt could not be fetched because the process, not the host, ran out of
      // descriptors; or the host store (the frontier's database) is away. The request waits.
      return {
        outcome: error instanceof ResourceExhaustedError
          ? { ...waiting, reason: "exhausted", cause: error }
          : { ...waiting, reason: "politeness", cause: error },
      };
    }
    switch (admission.kind) {
      case "disallowed":
        return { outcome: { kind: "dropped", reason: "disallowed", claim, host: admission.host } };
      case "unavailable":
        // Like a fetch that failed: retried, then failed, with the reason in the logs and status.
        return {
          outcome: this.#retryOrFail(claim, this.#options.retries, {
            reason: "host-blocked",
            error: admission.reason,
            cause: new Error(admission.reason),
          }),
        };
      case "later":
        return {
          outcome: {
            kind: "deferred",
            reason: "not-due",
            claim,
            error: "host not due",
            waitMs: admission.waitMs,
            hostWaitMs: admission.waitMs,
          },
        };
    }
    run.hosts.requested(admission.permit.host);
    return { permit: admission.permit };
  }

  /**
   * A failed attempt: tried again after `retryDelayMs` while the request has attempts left
   * (fewer than `retries` made), else failed for good.
   */
  #retryOrFail(
    claim: Claim,
    retries: number,
    failure: { reason: "fetch" | "host-blocked"; error: string; cause: unknown },
  ): Retry | Failed {
    return claim.request.attempt < retries
      ? { kind: "retry", claim, ...failure, delayMs: this.#options.retryDelayMs }
      : { kind: "failed", claim, ...failure };
  }

  /**
   * Gives a host slot back. If the host store cannot be reached (the database is away) the
   * fetch's own result stands, and the slot is given back in the background once the store is
   * back — rather than held until its lease ends, which would keep the host's other requests
   * waiting after the outage. A failure is logged once until a release works again.
   */
  async #releaseHost(
    run: TaskRun,
    permit: HostPermit | undefined,
    outcome: HostOutcome,
  ): Promise<number | undefined> {
    if (!permit) return undefined;
    try {
      const after = await permit.release(outcome);
      this.#releaseFailing = false;
      if (after) run.hosts.observed(after, outcome.kind === "throttled");
      return after?.dueInMs;
    } catch (error) {
      if (!this.#releaseFailing) {
        logWaiting(
          this.#options.logger,
          "releasing a host slot failed; it is given back when the host store is back",
          { task: run.name, host: permit.host, error },
        );
      }
      this.#releaseFailing = true;
      this.#releaseLater(permit, outcome);
      return undefined;
    }
  }

  /** Tries a failed host-slot release again every second for a while (see `#releaseHost`). */
  #releaseLater(permit: HostPermit, outcome: HostOutcome): void {
    const signal = this.#shutdown.signal;
    const late = (async () => {
      const until = performance.now() + LATE_RELEASE_FOR_MS;
      while (performance.now() < until && !signal.aborted) {
        try {
          await delay(LATE_RELEASE_EVERY_MS, { signal });
          await permit.release(outcome);
          this.#releaseFailing = false;
          return;
        } catch {
          // Still away (logged once above), or closing: the slot's lease frees it then.
        }
      }
    })();
    this.#lateReleases.add(late);
    late.finally(() => this.#lateReleases.delete(late));
  }

  /**
   * The process ran out of something (file descriptors): counted, logged once a minute with its
   * cause; the fetcher has already shed its idle connections.
   */
  #exhausted(run: TaskRun, error: ResourceExhaustedError): void {
    run.stats.exhausted++;
    const last = this.#exhaustedLogged.get(error.resource) ?? -Infinity;
    if (performance.now() - last < EXHAUSTED_LOG_EVERY_MS) return;
    this.#exhaustedLogged.set(error.resource, performance.now());
    this.#options.logger.warn(`out of ${error.resource}: requests wait and are tried again`, {
      task: run.name,
      error,
      cause: error.cause,
    });
  }

  /** A task's politeness: its own settings over the config's. */
  #settings(run: TaskRun): TaskPoliteness {
    return this.#settingsOf(run.task);
  }

  #settingsOf(task: Task): TaskPoliteness {
    const own = task.options.politeness ?? {};
    const defaults = this.#politeness?.defaults ?? DEFAULT_TASK_POLITENESS;
    return {
      robots: own.robots ?? defaults.robots,
      delayMs: own.delayMs ?? defaults.delayMs,
      perHostConcurrency: own.perHostConcurrency ?? defaults.perHostConcurrency,
    };
  }

  #onDone(run: TaskRun, state: RunState): void {
    if (this.#runs.get(run.name) === run) this.#runs.delete(run.name);
    const { fetched, failed, items, retried } = run.stats;
    this.#options.logger.info(`task ${state}`, {
      task: run.name,
      fetched,
      failed,
      items,
      retried,
      frontier: run.stats.frontier,
    });
  }

  /** Commits what the run's loops produced, then returns its other claims to the frontier. */
  async #release(run: TaskRun, feed: RunFeed): Promise<void> {
    await this.#commits.flush();
    const claims = feed.unsettled(this.#commits.outgoing);
    if (claims.length === 0) return;
    await this.#options.frontier.release(claims).catch((error) =>
      this.#options.logger.warn("returning claims to the frontier failed; they expire instead", {
        task: run.name,
        claims: claims.length,
        error,
      })
    );
  }

  async #loop(run: TaskRun, feed: RunFeed): Promise<void> {
    const signal = run.signal;
    const { options } = run.task;
    try {
      await run.opened;
    } catch {
      return;
    }
    while (!signal.aborted) {
      try {
        // Wait for the limiter before claiming: a claim is then fetched at once, not held.
        await feed.limiter.wait(signal);
        if (options.waitTime > 0) await this.#options.randomWait(options.waitTime, signal);
      } catch (error) {
        if (!signal.aborted) {
          this.#options.logger.error("waiting to fetch failed", { task: run.name, error });
        }
        return;
      }
      const turn = await feed.next();
      if (!turn) return;
      const { claim } = turn;
      let outcome: FetchOutcome | undefined;
      const host: HostNote = {};
      try {
        outcome = await this.#process(run, feed, turn, host);
        if (outcome && host.waitMs !== undefined) {
          outcome = { ...outcome, hostWaitMs: host.waitMs };
        }
      } catch (error) {
        if (!signal.aborted) {
          outcome = { kind: "failed", reason: "error", claim, error: String(error), cause: error };
        }
      }
      this.#record(run, feed, turn, outcome);
    }
  }

  /**
   * Records what became of one claimed request: the one place that counts outcomes in the run's
   * statistics and activity, logs them, stores a page's items, and hands the acknowledgement to
   * the group commit for the frontier. Without an outcome (the run stopped) the claim goes back
   * to the frontier with the run's others.
   */
  #record(run: TaskRun, feed: RunFeed, turn: FetchTurn, outcome: FetchOutcome | undefined): void {
    const { stats } = run;
    const log = this.#options.logger;
    const task = run.name;
    const { url, attempt, ruleName } = turn.claim.request;
    switch (outcome?.kind) {
      case undefined:
        break;
      case "done":
        if (outcome.recovered !== undefined) {
          log.debug("fetch failed; its rule queued what stands in for it", {
            task,
            url,
            error: outcome.recovered,
          });
        }
        for (const item of outcome.items) {
          this.#options.sink.save(item, outcome.itemFields ?? Object.keys(item.data));
          stats.items++;
        }
        if (outcome.recrawl) this.#revisited(run, url, outcome.recrawl.result, outcome.items);
        if (outcome.sitemap) {
          stats.sitemaps += outcome.sitemap.files;
          stats.sitemapUrls += outcome.sitemap.urls;
        }
        break;
      case "dropped":
        stats.disallowed++;
        run.hosts.disallowed(outcome.host);
        log.debug("disallowed by robots.txt", { task, url });
        break;
      case "deferred":
        if (outcome.reason === "not-due") {
          stats.deferred++;
        } else if (outcome.reason === "exhausted") {
          feed.troubled(outcome.cause.message);
          this.#exhausted(run, outcome.cause);
        } else {
          // The host store (the frontier's database) is away: logged once until a check works.
          if (!this.#admitFailing) {
            logWaiting(log, "politeness check failed; the request waits", {
              task,
              url,
              error: outcome.cause,
            });
          }
          this.#admitFailing = true;
          feed.troubled(`politeness: ${(outcome.cause as Error)?.message ?? outcome.cause}`);
        }
        break;
      case "retry":
        if (outcome.reason === "throttled") {
          stats.throttled++;
          log.info("host asked to slow down", {
            task,
            url,
            status: outcome.status,
            retryAfterMs: outcome.retryAfterMs,
          });
          break;
        }
        stats.retried++;
        // Most retries succeed: a person reading the log cares about the final outcome.
        if (outcome.reason === "fetch") {
          log.debug("fetch failed, retrying", { task, url, error: outcome.cause });
        } else if (outcome.reason === "host-blocked") {
          log.debug("host blocked, retrying", { task, url, error: outcome.cause });
        }
        break;
      case "failed": {
        stats.failed++;
        run.activity.failed(url, outcome.cause);
        const error = outcome.cause;
        switch (outcome.reason) {
          case "fetch":
            log.warn("fetch failed", { task, url, attempt, error });
            break;
          case "host-blocked":
            log.warn("host blocked", { task, url, attempt, error });
            break;
          case "no-rule":
            log.error("no such rule", { task, rule: ruleName, url });
            break;
          case "error":
            log.error("request failed", { task, url, error });
        }
        break;
      }
    }
    const handed = turn.handOver();
    if (!outcome) return;
    // A recrawl task's page failed for good is tried again after its interval.
    const recrawl = this.#recrawlOf(run, ruleName);
    const revisitAfterMs = recrawl && (turn.claim.page?.intervalMs ?? recrawl.intervalMs);
    this.#commits.add(frontierOutcome(outcome, revisitAfterMs)).then((counted) =>
      // Its children are in the frontier now: links to them need not be sent again.
      handed.settle(counted && outcome.kind === "done" ? outcome.children : undefined)
    );
    // Loops waiting for work wait for this acknowledgement's children: commit it now.
    if (feed.starving) this.#commits.hurry();
  }

  /** The recrawl policy of a rule's pages in `run`; none in a run that fetches once. */
  #recrawlOf(run: TaskRun, ruleName: string): RecrawlPolicy | undefined {
    return run.once ? undefined : recrawlOf(run.task, ruleName);
  }

  /**
   * Counts what a revisit found; a page whose output changed has the rows it no longer outputs
   * deleted (after its new items, in the sink's order).
   */
  #revisited(run: TaskRun, url: string, result: RevisitResult, items: readonly Item[]): void {
    const counters = run.stats.recrawl;
    if (result === "new") return;
    if (counters) {
      counters.revisits++;
      if (result === "not-modified") counters.notModified++;
      else counters[result]++;
    }
    if (result === "changed") {
      this.#options.sink.retire?.(run.name, url, items.map((item) => item.key));
    }
  }

  /**
   * What a visit of a recrawl task's page found and the record it waits for its next visit
   * with: the output hashed against the last visit's, the interval adapted.
   */
  #visit(
    policy: RecrawlPolicy,
    last: PageRecord | undefined,
    response: FetchResponse,
    hash: string | undefined,
  ): { result: RevisitResult; page: PageRecord } {
    const result: RevisitResult = response.status === 304
      ? "not-modified"
      : last === undefined
      ? "new"
      : last.hash === hash
      ? "unchanged"
      : "changed";
    const page: PageRecord = {
      fetchedAt: Date.now(),
      intervalMs: nextInterval(policy, result, last?.intervalMs),
    };
    // A 304 may repeat or update the validators; a 200 replaces them.
    const etag = response.etag ?? (result === "not-modified" ? last?.etag : undefined);
    const lastModified = response.lastModified ??
      (result === "not-modified" ? last?.lastModified : undefined);
    const kept = hash ?? last?.hash;
    if (etag !== undefined) page.etag = etag;
    if (lastModified !== undefined) page.lastModified = lastModified;
    if (kept !== undefined) page.hash = kept;
    return { result, page };
  }

  /** Fetches and parses one claimed request; undefined if the run was stopped meanwhile. */
  async #process(
    run: TaskRun,
    feed: RunFeed,
    turn: FetchTurn,
    host: HostNote,
  ): Promise<FetchOutcome | undefined> {
    const signal = run.signal;
    // A host's requests held here wait for one another, not for a fetch slot: a claim whose
    // host is at its limit in this process waits its turn instead of going back untried.
    const settings = this.#settings(run);
    const hostTurn = this.#politeness
      ? await this.#hostTurns.acquire(
        urlHost(turn.claim.request.url),
        settings.delayMs > 0 ? 1 : settings.perHostConcurrency,
        signal,
      )
      : undefined;
    try {
      return await this.#fetchAndParse(run, feed, turn, host);
    } finally {
      hostTurn?.();
    }
  }

  async #fetchAndParse(
    run: TaskRun,
    feed: RunFeed,
    turn: FetchTurn,
    host: HostNote,
  ): Promise<FetchOutcome | undefined> {
    const { claim } = turn;
    const req = claim.request;
    const signal = run.signal;
    // A fetch slot first, then the host's turn: a host that is not due gives the claim back at
    // once (it waits in the frontier, where every worker's claims skip the host meanwhile) and
    // the slot goes to another claim. Taking the host's slot last keeps it held only while the
    // fetch runs, so its lease can be as short as a fetch.
    const release = await this.#slots.acquire(signal);
    let admitted: { permit?: HostPermit } | { outcome: FetchOutcome | undefined };
    try {
      admitted = await this.#admit(run, claim);
    } catch (error) {
      release();
      throw error;
    }
    if ("outcome" in admitted) {
      release();
      return admitted.outcome;
    }
    const permit = admitted.permit;
    const rule = run.task.ruleSet.rules[req.ruleName];
    const render = renderOf(run.task, req.ruleName);
    const recrawl = this.#recrawlOf(run, req.ruleName);
    // A revisit asks whether the page changed since its last visit (a 304 if not).
    const last = recrawl ? claim.page : undefined;
    let response;
    /** The parse of a body read as it arrived: it ends with the fetch. */
    let streamed: { result: ParseResult } | { error: unknown } | undefined;
    try {
      response = await this.#options.fetcher.fetch({
        url: req.url,
        method: req.method,
        cookie: run.task.options.cookie,
        userAgent: run.task.options.politeness?.randomUserAgent ? randomUserAgent() : undefined,
        // A host whose next turn is seconds away need not keep its connection open till then.
        keepAlive: !permit || permit.delayMs < KEEP_ALIVE_MAX_DELAY_MS,
        // Rendered in a browser when the task's fetcher is the browser or its rule says so.
        render,
        renderWatch: render ? run.renders : undefined,
        // A rule's files may be bigger than a page (sitemaps), and read as they arrive.
        maxBodyBytes: rule?.fetch?.maxBodyBytes,
        stream: rule?.fetch?.stream,
        validators: last && (last.etag !== undefined || last.lastModified !== undefined)
          ? { etag: last.etag, lastModified: last.lastModified }
          : undefined,
        signal,
      });
      if (response.stream && rule) {
        // The body arrives while the rule reads it: the fetch slot and the host's turn are held
        // until it has. A download that fails is a failed fetch; the rule's own error is not.
        streamed = await this.#parse(run, rule, req, response).then(
          (result) => ({ result }),
          (error) => {
            if (error instanceof FetchError || signal.aborted) throw error;
            return { error };
          },
        );
      }
      host.waitMs = await this.#releaseHost(run, permit, { kind: "ok" });
      feed.progressed();
    } catch (error) {
      const seen = hostOutcomeOf(error);
      host.waitMs = await this.#releaseHost(
        run,
        permit,
        signal.aborted ? { kind: "failed" } : seen,
      );
      if (signal.aborted) return undefined;
      if (error instanceof ResourceExhaustedError) {
        // Not the page's fault: it waits untried while the process frees what ran out.
        return {
          kind: "deferred",
          reason: "exhausted",
          claim,
          error: error.message,
          cause: error,
          waitMs: EXHAUSTED_BACKOFF_MS,
        };
      }
      feed.progressed();
      // The host asked us to wait: the request waits with it (the host is not due until then)
      // and is tried again, up to MAX_THROTTLED times before it counts as failed.
      if (
        seen.kind === "throttled" && permit && req.attempt < this.#options.retries + MAX_THROTTLED
      ) {
        return {
          kind: "retry",
          reason: "throttled",
          claim,
          error: String((error as Error)?.message),
          status: seen.status,
          retryAfterMs: seen.retryAfterMs,
        };
      }
      const retriable = error instanceof FetchError ? error.retriable : true;
      return this.#recovered(
        feed,
        rule,
        this.#retryOrFail(claim, retriable ? this.#options.retries : 0, {
          reason: "fetch",
          error: String((error as Error)?.message ?? error),
          cause: error,
        }),
      );
    } finally {
      response?.stream?.cancel().catch(() => {/* read to its end, or failed: nothing held */});
      release();
    }
    // A page counts as fetched when it arrives, whatever becomes of it.
    run.stats.fetched++;
    run.activity.fetched(req.url);
    if (recrawl && response.status === 304) {
      // Not modified: no parse, no writes, no children; the interval grows.
      return {
        kind: "done",
        claim,
        children: [],
        items: [],
        recrawl: this.#visit(recrawl, last, response, undefined),
      };
    }
    if (!rule) {
      return {
        kind: "failed",
        reason: "no-rule",
        claim,
        error: `no such rule "${req.ruleName}"`,
        cause: new Error(`no rule "${req.ruleName}"`),
      };
    }
    if (streamed && "error" in streamed) throw streamed.error;
    const result = streamed?.result ?? await this.#parse(run, rule, req, response);
    if (signal.aborted) return undefined;
    if (turn.takeRetry()) {
      // Its parse was lost with a parse worker: back to the queue, counted as an attempt.
      return {
        kind: "retry",
        reason: "parse-lost",
        claim,
        error: "page not parsed (its parse worker was stopped)",
      };
    }
    const items = result.items ?? [];
    const requests = result.requests ?? [];
    if (recrawl) {
      const visit = this.#visit(recrawl, last, response, outputHash(items, requests));
      // The same output as last time: nothing to write, its links are in the frontier.
      const unchanged = visit.result === "unchanged";
      return {
        kind: "done",
        claim,
        children: unchanged ? [] : feed.children(requests),
        items: unchanged ? [] : items,
        itemFields: rule.itemFields,
        sitemap: result.sitemap,
        recrawl: visit,
      };
    }
    return {
      kind: "done",
      claim,
      children: feed.children(requests),
      items,
      itemFields: rule.itemFields,
      sitemap: result.sitemap,
    };
  }

  /** Runs `rule` on the page `response` brought for `req`. */
  #parse(
    run: TaskRun,
    rule: Rule,
    req: CrawlRequest,
    response: FetchResponse,
  ): Promise<ParseResult> {
    return this.#options.parseRule(
      rule,
      new ParseContext(run.name, req, response, response.url),
      run,
    );
  }

  /**
   * `outcome`, or, for a request failed for good whose rule can stand something in for it
   * (`Rule.recover`), the request done with what the rule queues instead.
   */
  #recovered(feed: RunFeed, rule: Rule | undefined, outcome: Retry | Failed): FetchOutcome {
    if (outcome.kind !== "failed" || !rule?.recover) return outcome;
    const instead = rule.recover(outcome.claim.request, outcome.cause);
    if (!instead) return outcome;
    return {
      kind: "done",
      claim: outcome.claim,
      children: feed.children(instead.requests ?? []),
      items: instead.items ?? [],
      itemFields: rule.itemFields,
      sitemap: instead.sitemap,
      recovered: outcome.cause,
    };
  }
}
