/**
 * @module
 * One run of a task on the engine: it opens the task's crawl in the frontier, hands the
 * engine's fetch loops requests claimed from it (a small local buffer, refilled in batches), keeps
 * the leases of what it holds alive, and tells when the crawl has finished — nothing queued,
 * nothing leased, on any worker — or the run was stopped.
 */
import type { Logger } from "../log/logger.ts";
import { delay } from "../async/delay.ts";
import {
  type Claim,
  emptyCounts,
  type Frontier,
  type FrontierCounts,
  type Opening,
} from "../frontier/frontier.ts";
import type { CrawlRequest } from "../frontier/crawl_request.ts";
import { VisitedSet } from "./visited_set.ts";
import { keyHash } from "../frontier/key_hash.ts";
import type { Task } from "./task.ts";
import { TaskActivity } from "./task_activity.ts";
import { HostCounters } from "./politeness/host_counters.ts";
import { type RenderStats, RenderTally } from "./browser/render_stats.ts";
import { taskRenders } from "./browser/render_options.ts";
import { logWaiting } from "../errors/mod.ts";
import { recrawls } from "./recrawl.ts";

/** Counters of a run, as shown by progress lines, the status API and metrics. */
export interface TaskStats {
  /** Pages this worker fetched in this run. */
  fetched: number;
  /** Requests this worker gave up on in this run. */
  failed: number;
  /** Failed attempts that will be tried again (their request had attempts left). */
  retried: number;
  /** Items this worker's pages produced in this run. */
  items: number;
  /** Requests dropped because they were deeper than `maxDepth`. */
  tooDeep: number;
  /** Links dropped because this worker knew their URL was in the frontier already. */
  duplicates: number;
  /** Requests not fetched because robots.txt disallows them. */
  disallowed: number;
  /** Sitemap files (and feeds) read in this run. */
  sitemaps: number;
  /** Page URLs those sitemaps listed that passed the task's filters. */
  sitemapUrls: number;
  /** 429/503 answers: the request waits for its host's block and is tried again. */
  throttled: number;
  /** Claims put back untried because their host was not due (delay, block, per-host limit). */
  deferred: number;
  /** Fetches that found the process out of a resource (file descriptors): tried again later. */
  exhausted: number;
  /** Requests of the task waiting in the frontier (every worker's): `frontier.queued`. */
  queued: number;
  /**
   * Why the run has made no progress for a minute although work is queued (a frontier that
   * cannot be written, descriptors run out, no host due): absent while it makes progress.
   */
  stalled?: string;
  /** Requests this worker is fetching or parsing now. */
  inFlight: number;
  /**
   * The task's requests by state, from the frontier: the same figures on every worker of the
   * task (refreshed about once a second while the run goes on).
   */
  frontier: FrontierCounts;
  /** When the run started, ms since the epoch. */
  startedAt: number;
  /** When it finished or was stopped, ms since the epoch. */
  finishedAt?: number;
  /** What its pages did in the browser: present when the task renders pages. */
  render?: RenderStats;
  /** Its revisits: present when the task (or one of its rules) recrawls. */
  recrawl?: RecrawlStats;
}

/** What a recrawl task's revisits found in this run (docs/frontier.md, "Recrawl"). */
export interface RecrawlStats {
  /** Pages fetched again (a conditional GET) after their interval. */
  revisits: number;
  /** Revisits answered 304 Not Modified: no parse, no writes. */
  notModified: number;
  /** Revisits answered 200 whose rule output hashed as before: no writes. */
  unchanged: number;
  /** Revisits whose rule output changed: items written, rows it no longer outputs deleted. */
  changed: number;
  /**
   * When the task's next visit is due, ms since the epoch (refreshed with `frontier`); absent
   * while nothing is scheduled.
   */
  nextDueAt?: number;
}

/** Where a run stands: it ends `finished` (its crawl has) or `stopped`. */
export type RunState = "running" | "finished" | "stopped";

/** A limiter the run waits on before each fetch. */
export interface Limiter {
  /** Resolves when the next fetch may go; rejects with `signal.reason` when it aborts. */
  wait(signal?: AbortSignal): Promise<void>;
}

/**
 * The engine's side of a run, handed only to the `Crawler` that started it (see
 * {@linkcode TaskRun.start}); everyone else sees the {@linkcode TaskRun}. The engine's fetch
 * loops wait on `limiter`, take claimed requests with `next` — each a {@linkcode FetchTurn} that
 * goes through its steps in order — and, once the loops have ended, release what `unsettled`
 * lists.
 */
export interface RunFeed {
  /** The task's limiter: a loop waits on it before it takes a request. */
  readonly limiter: Limiter;
  /** True while the run's fetch loops wait for something to claim. */
  readonly starving: boolean;
  /**
   * The next claimed request to fetch; undefined once the crawl has finished or the run
   * stopped. Waits while nothing is claimable but other work (here or on other workers) may
   * still add some.
   */
  next(): Promise<FetchTurn | undefined>;
  /**
   * Keeps the children worth sending to the frontier: not deeper than `maxDepth` and (without
   * `reload`) neither known to be there nor repeated on the page. Counts what it drops.
   */
  children(requests: readonly CrawlRequest[]): CrawlRequest[];
  /** The run moved forward (a page fetched): it is not stalled. */
  progressed(): void;
  /**
   * Something kept the run from moving: `reason` is shown should the run stall (see
   * `TaskRun.trouble`).
   */
  troubled(reason: string): void;
  /** Claims held but not on their way to the frontier: to release once the loops have ended. */
  unsettled(outgoing: ReadonlySet<number>): Claim[];
}

/**
 * One claimed request in a fetch loop, from {@linkcode RunFeed.next} to its outcome. Its steps
 * come in this order, each at most once: `takeRetry` (after the parse), `handOver` (the loop is
 * done with it), then `settle` on what `handOver` returned (its outcome is durable). A step out
 * of order or repeated throws.
 */
export interface FetchTurn {
  /** The claimed request. */
  readonly claim: Claim;
  /** True if the parse asked for the page to be fetched again (see `TaskRun.retry`). */
  takeRetry(): boolean;
  /**
   * The request left the fetch loop: its outcome is on its way to the frontier, or it has none
   * (the run stopped) and goes back with the run's other claims.
   */
  handOver(): HandedOver;
}

/** A request handed over with an outcome on its way to the frontier (see {@linkcode FetchTurn}). */
export interface HandedOver {
  /**
   * Its outcome is durable (or was given up). `known`: the children its acknowledgement added
   * to the frontier, when it committed and counted — links to them need not be sent again.
   */
  settle(known?: readonly CrawlRequest[]): void;
}

/** Options for {@linkcode TaskRun}. */
export interface TaskRunOptions {
  /** Where the task's crawl lives. */
  frontier: Frontier;
  /** Where the run logs its trouble (claims, leases, stalls). */
  logger: Logger;
  /** Who this worker is in the frontier's leases. */
  owner: string;
  /** Lease time of a claim, ms; renewed at a third of it while held. Default 30000. */
  leaseMs?: number;
  /** Requests claimed at once. Default 16. */
  batch?: number;
  /** The crawl to join (a cluster resource's ID); default: resume or start one. */
  crawl?: string;
  /** Start a new crawl, dropping what the task has. */
  fresh?: boolean;
  /** Asks the engine to commit its pending acknowledgements now (this run waits on them). */
  hurry?: () => void;
  /** How often to look again when nothing is claimable but the crawl is not finished, ms. */
  pollMs?: number;
  /** Claim only requests whose host is due (docs/frontier.md, "Politeness"). Default false. */
  skipHostsNotDue?: boolean;
  /** Most requests of one host in one claim (`ClaimOptions.perHost`). Default: no limit. */
  perHost?: number;
  /** How long a host handed out is held for its outcome (`ClaimOptions.hostHoldMs`). Default 0. */
  hostHoldMs?: number;
  /** How long without progress, with work queued, before the run says it is stalled, ms. */
  stallMs?: number;
  /** The run's start time (`stats.startedAt`), ms since the epoch. Default: now. */
  now?: number;
  /**
   * Fetch each page once: a recrawl task's pages are not scheduled again, and the run finishes
   * once what is due has been fetched (the standalone worker's `--once`). Default false.
   */
  once?: boolean;
}

/** Most URLs the run remembers as already in the frontier (~16 MiB); the frontier has them all. */
const KNOWN_MAX = 1 << 20;
/** How soon renewing leases is tried again after it failed, ms. */
const RENEW_RETRY_MS = 1000;
/** How soon claiming is tried again after it failed, ms. */
const CLAIM_RETRY_MS = 500;

/**
 * One run of a task: what the rest of the worker sees of it — its counters, activity and
 * state, `opened` and `done` — and `stop`. The engine (`Crawler.start`) makes it with
 * {@linkcode TaskRun.start} and drives it through the {@linkcode RunFeed} it keeps; a run ends
 * when its crawl has finished or it is stopped (`Crawler.stop`, `Crawler.close`, or `stop`
 * here), which aborts `signal`.
 *
 * @example
 * ```ts
 * const run = crawler.start(task);
 * console.log((await run.opened).mode, await run.done, run.stats.fetched);
 * ```
 */
export class TaskRun {
  /** The run's counters (see {@linkcode TaskStats}); the engine updates them as it goes. */
  readonly stats: TaskStats;
  /** The last errors and the busiest hosts, for the dashboard. */
  readonly activity: TaskActivity = new TaskActivity();
  /** This run's requests, 429/503s and disallowed URLs per host (status and metrics). */
  readonly hosts: HostCounters = new HostCounters();
  /** Counts the run's renders into `stats.render`; absent when the task renders no page. */
  readonly renders?: RenderTally;
  /** What the frontier held when the run opened the task's crawl (resumed or new). */
  readonly opened: Promise<Opening>;
  readonly #options: Required<
    Omit<TaskRunOptions, "crawl" | "fresh" | "now" | "perHost" | "hostHoldMs" | "once">
  >;
  /** True for a run that fetches each page once (see {@linkcode TaskRunOptions.once}). */
  readonly once: boolean;
  readonly #perHost: number | undefined;
  readonly #hostHoldMs: number;
  /** When the run last fetched or settled a claim (performance.now() ms). */
  #progressAt = performance.now();
  /** The last thing that went wrong, for `stalled`. */
  #trouble: string | undefined;
  readonly #controller: AbortController = new AbortController();
  /** What the engine drives the run with (see {@linkcode TaskRun.start}). */
  readonly #feed: RunFeed;
  /**
   * URLs this run knows are in the frontier: links to them are not sent again. A cache that
   * holds only what is durable there — the roots once the crawl is open, a page's children once
   * its acknowledgement committed and counted (see `remember`) — so a link is never dropped as
   * known while the frontier lacks it.
   */
  readonly #known = new VisitedSet({ maxSize: KNOWN_MAX });
  #buffer: Claim[] = [];
  /** Requests whose page must be fetched again (see `retry`). */
  readonly #refetch = new Set<CrawlRequest>();
  /** Claims held: buffered, being fetched, or waiting for their acknowledgement to commit. */
  readonly #held = new Map<number, Claim>();
  /** Claims handed to a fetch loop whose acknowledgement has not committed yet. */
  #pending = 0;
  #refilling: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #state: RunState = "running";
  /** When the periodic count may run again (performance.now() ms). */
  #countsDue = 0;
  #timers: Array<ReturnType<typeof setInterval>> = [];
  #renewTimer: ReturnType<typeof setTimeout> | undefined;
  /** True from a failed claim until one succeeds (logged once). */
  #claimFailing = false;
  #resolveDone!: (state: RunState) => void;
  /** Resolves when the crawl has finished or the run was stopped. */
  readonly done: Promise<RunState> = new Promise((resolve) => this.#resolveDone = resolve);

  /**
   * Opens a run of `task` (see `opened`): the run for everyone, and the feed only its engine
   * may drive it with.
   */
  static start(
    task: Task,
    limiter: Limiter,
    options: TaskRunOptions,
  ): { run: TaskRun; feed: RunFeed } {
    const run = new TaskRun(task, limiter, options);
    return { run, feed: run.#feed };
  }

  private constructor(
    readonly task: Task,
    limiter: Limiter,
    options: TaskRunOptions,
  ) {
    this.#options = {
      leaseMs: 30_000,
      batch: 16,
      pollMs: 100,
      skipHostsNotDue: false,
      stallMs: 60_000,
      hurry: () => {},
      ...options,
    };
    this.#perHost = options.perHost;
    this.#hostHoldMs = options.hostHoldMs ?? 0;
    this.once = options.once ?? false;
    this.stats = {
      fetched: 0,
      failed: 0,
      retried: 0,
      items: 0,
      tooDeep: 0,
      duplicates: 0,
      disallowed: 0,
      sitemaps: 0,
      sitemapUrls: 0,
      throttled: 0,
      deferred: 0,
      exhausted: 0,
      queued: 0,
      inFlight: 0,
      frontier: emptyCounts(),
      startedAt: options.now ?? Date.now(),
    };
    if (taskRenders(task)) {
      this.renders = new RenderTally();
      this.stats.render = this.renders.stats;
    }
    if (recrawls(task) && !this.once) {
      this.stats.recrawl = { revisits: 0, notModified: 0, unchanged: 0, changed: 0 };
    }
    this.#feed = this.#makeFeed(limiter);
    this.opened = this.#open(options);
    // Callers that do not wait on `opened` learn of a failure through `done`.
    this.opened.catch(() => {});
  }

  /** The task's name. */
  get name(): string {
    return this.task.options.name;
  }

  /** Running until the crawl has finished or the run is stopped. */
  get state(): RunState {
    return this.#state;
  }

  /** Aborted when the run ends: in-flight fetches and waits end with it. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /**
   * Asks for a page to be fetched again: its parse was lost (the parse worker holding its bytes
   * was stopped). The engine records the claim as retried instead of done (see
   * {@linkcode FetchTurn.takeRetry}). Called by the parse pool, for the run it parses for.
   */
  retry(req: CrawlRequest): void {
    if (this.#state !== "running") return;
    this.#refetch.add(req);
  }

  /** The last trouble since the run last made progress (see {@linkcode RunFeed.troubled}). */
  get trouble(): string | undefined {
    return this.#trouble;
  }

  /** The engine's side of this run (see {@linkcode RunFeed}). */
  #makeFeed(limiter: Limiter): RunFeed {
    const starving = () => this.#wake !== undefined;
    return {
      limiter,
      get starving() {
        return starving();
      },
      next: () => this.#next(),
      children: (requests) => this.#children(requests),
      progressed: () => this.#progressed(),
      troubled: (reason) => {
        this.#trouble = reason;
      },
      unsettled: (outgoing) => [...this.#held.values()].filter((c) => !outgoing.has(c.id)),
    };
  }

  async #next(): Promise<FetchTurn | undefined> {
    for (;;) {
      if (this.#state !== "running") return undefined;
      const claim = this.#buffer.shift();
      if (claim) {
        this.#pending++;
        this.stats.inFlight++;
        // Claim the next batch before this one runs out, so no loop waits for a round trip.
        if (this.#buffer.length < this.#options.batch / 2) this.#startRefill();
        return this.#turn(claim);
      }
      await this.#startRefill();
    }
  }

  /** The steps of one claim handed to a fetch loop (see {@linkcode FetchTurn}). */
  #turn(claim: Claim): FetchTurn {
    let step: "fetching" | "handed over" | "settled" = "fetching";
    const expect = (wanted: typeof step, doing: string) => {
      if (step !== wanted) throw new Error(`${doing}: the claim is ${step}, not ${wanted}`);
    };
    return {
      claim,
      takeRetry: () => {
        expect("fetching", "takeRetry");
        return this.#refetch.delete(claim.request);
      },
      handOver: () => {
        expect("fetching", "handOver");
        step = "handed over";
        this.stats.inFlight--;
        return {
          settle: (known = []) => {
            expect("handed over", "settle");
            step = "settled";
            this.#remember(known);
            this.#progressed();
            this.#held.delete(claim.id);
            this.#pending--;
            this.#wake?.();
          },
        };
      },
    };
  }

  #startRefill(): Promise<void> {
    return this.#refilling ??= this.#refill().finally(() => this.#refilling = undefined);
  }

  /**
   * See {@linkcode RunFeed.children}. The cache is keyed by the URL as found (already resolved
   * by `ParseContext.follow`), not by `urlKey`: parsing every link of every page would cost
   * more than it saves; the frontier deduplicates what the cache lets through. What is kept
   * becomes known only once it is durable (`#remember`).
   */
  #children(requests: readonly CrawlRequest[]): CrawlRequest[] {
    const { maxDepth, reload } = this.task.options;
    const kept: CrawlRequest[] = [];
    const onPage = new Set<string>();
    for (const req of requests) {
      if (req.depth > maxDepth) {
        this.stats.tooDeep++;
        continue;
      }
      if (!reload) {
        const key = cacheKey(req);
        if (onPage.has(key) || this.#known.has(key)) {
          this.stats.duplicates++;
          continue;
        }
        onPage.add(key);
      }
      kept.push(req);
    }
    return kept;
  }

  /**
   * Records requests as in the frontier: a page's children once the acknowledgement that added
   * them has committed and counted. Children of an acknowledgement that failed, or did not
   * count, stay unknown, so the next page that links to them sends them again.
   */
  #remember(requests: readonly CrawlRequest[]): void {
    if (this.task.options.reload) return;
    for (const req of requests) this.#known.add(cacheKey(req));
  }

  /** The run moved forward (a page fetched, an outcome stored): it is not stalled. */
  #progressed(): void {
    this.#progressAt = performance.now();
    this.#trouble = undefined;
    if (this.stats.stalled !== undefined) {
      this.#options.logger.info("task making progress again", { task: this.name });
      delete this.stats.stalled;
    }
  }

  /** Checks for a stall: a minute without progress while work is queued. */
  #checkStall(): void {
    if (performance.now() - this.#progressAt < this.#options.stallMs) return;
    const { queued } = this.stats.frontier;
    if (queued === 0 && this.stats.inFlight === 0) return;
    const reason = this.#trouble ?? (queued > 0 ? "no host is due" : "waiting for fetches");
    if (this.stats.stalled === reason) return;
    this.stats.stalled = reason;
    this.#options.logger.warn(`task stalled: ${reason}`, {
      task: this.name,
      queued,
      inFlight: this.stats.inFlight,
      sinceMs: Math.round(performance.now() - this.#progressAt),
    });
  }

  /** Reads the task's counts from the frontier into `stats`. */
  async #refreshCounts(): Promise<void> {
    this.#setCounts(await this.#options.frontier.counts(this.name));
  }

  /** Takes the task's counts into `stats`, with a recrawl task's next due time. */
  #setCounts({ nextRevisitMs, ...counts }: FrontierCounts): void {
    this.stats.frontier = counts;
    this.stats.queued = counts.queued;
    const recrawl = this.stats.recrawl;
    if (!recrawl) return;
    // Revisits due now are next; else the first scheduled one.
    if (counts.due > 0) recrawl.nextDueAt = Date.now();
    else if (nextRevisitMs !== undefined) recrawl.nextDueAt = Date.now() + nextRevisitMs;
    else delete recrawl.nextDueAt;
  }

  /** Stops the run: nothing more is scheduled, waits and fetches in flight are aborted. */
  stop(reason: unknown = new DOMException("task stopped", "AbortError")): void {
    if (this.#state !== "running") return;
    this.#end("stopped", reason);
  }

  async #open(options: TaskRunOptions): Promise<Opening> {
    const { frontier, logger } = this.#options;
    const { task } = this;
    let roots: CrawlRequest[] = [];
    try {
      roots = task.ruleSet.root({ url: task.options.url }).map((init) => ({
        method: "GET",
        depth: 0,
        priority: 0,
        attempt: 0,
        ...init,
      }));
    } catch (error) {
      logger.error("task root failed", { task: this.name, error });
    }
    roots = roots.filter((req) => req.depth <= task.options.maxDepth);
    for (;;) {
      try {
        const opening = await frontier.begin(this.name, {
          roots,
          definition: definitionOf(task, roots),
          crawl: options.crawl,
          fresh: options.fresh,
          reload: task.options.reload,
          owner: this.#options.owner,
        });
        // The crawl holds its roots now (added by a new crawl, or by the one resumed).
        this.#remember(roots);
        this.#setCounts(opening.counts);
        this.#renewLeases();
        this.#every(1000, async () => {
          this.#checkStall();
          // Counting a big crawl's rows is not free: at most a tenth of the time goes to it.
          if (performance.now() < this.#countsDue) return;
          const started = performance.now();
          await this.#refreshCounts();
          this.#countsDue = performance.now() + 9 * (performance.now() - started);
        });
        return opening;
      } catch (error) {
        if (this.#state !== "running") throw error;
        logger.warn("opening the task's crawl in the frontier failed; retrying", {
          task: this.name,
          error,
        });
        await delay(1000, { signal: this.signal }).catch(() => {});
      }
    }
  }

  async #refill(): Promise<void> {
    const { frontier, logger } = this.#options;
    try {
      await this.opened;
      if (this.#state !== "running") return;
      const claims = await frontier.claim(this.name, {
        owner: this.#options.owner,
        limit: this.#options.batch,
        leaseMs: this.#options.leaseMs,
        skipHostsNotDue: this.#options.skipHostsNotDue,
        perHost: this.#perHost,
        hostHoldMs: this.#hostHoldMs,
      });
      this.#claimFailing = false;
      if (this.#state !== "running") {
        await frontier.release(claims);
        return;
      }
      if (claims.length > 0) {
        for (const claim of claims) this.#held.set(claim.id, claim);
        this.#buffer.push(...claims);
        return;
      }
      if (this.#pending === 0) {
        // A run that fetches once, or a task whose recrawl was removed, does not wait for
        // revisits scheduled before: it is finished once what is due has been fetched.
        if (await frontier.finished(this.name, { once: this.once || !recrawls(this.task) })) {
          await this.#refreshCounts().catch(() => {});
          this.#end("finished");
          return;
        }
      } else {
        // Our own acknowledgements will queue more: ask for them now rather than poll.
        this.#options.hurry();
      }
      // Nothing ready: sleep until the first host is due (an acknowledgement of ours wakes
      // us sooner), looking again at least every second for other workers' additions.
      const dueMs = await frontier.nextDue(this.name);
      await this.#sleep(
        dueMs === undefined
          ? (this.#pending > 0 ? 1000 : this.#options.pollMs)
          : Math.min(1000, Math.max(this.#options.pollMs / 10, dueMs)),
      );
    } catch (error) {
      if (this.#state !== "running") return;
      // Once until a claim works again: an outage's retries are not news.
      if (!this.#claimFailing) {
        logWaiting(logger, "claiming from the frontier failed; retrying", {
          task: this.name,
          error,
        });
      }
      this.#claimFailing = true;
      this.#trouble = `frontier: ${(error as Error)?.message ?? error}`;
      await this.#sleep(CLAIM_RETRY_MS);
    }
  }

  /** Waits `ms`, or less when an acknowledgement of this run commits or the run ends. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.signal.removeEventListener("abort", wake);
        if (this.#wake === wake) this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.signal.addEventListener("abort", wake, { once: true });
      this.#wake = wake;
    });
  }

  /**
   * Renews the leases of every claim held — buffered, being fetched, or waiting in the group
   * commit for its acknowledgement — every third of the lease time. After a failure (the
   * frontier away) it tries every second instead, so the leases are renewed as soon as the
   * frontier is back, before they lapse only because it was slow to return.
   */
  #renewLeases(): void {
    const every = Math.max(50, this.#options.leaseMs / 3);
    let failing = false;
    const renew = async () => {
      const claims = [...this.#held.values()];
      try {
        if (claims.length > 0) {
          await this.#options.frontier.extend(claims, this.#options.leaseMs);
        }
        if (failing) {
          this.#options.logger.info("leases renewed again", {
            task: this.name,
            claims: claims.length,
          });
        }
        failing = false;
      } catch (error) {
        if (!failing) {
          logWaiting(this.#options.logger, "renewing leases failed; trying again every second", {
            task: this.name,
            claims: claims.length,
            error,
          });
        }
        failing = true;
      }
      if (this.#state !== "running") return;
      this.#renewTimer = setTimeout(renew, failing ? Math.min(every, RENEW_RETRY_MS) : every);
    };
    if (this.#state === "running") this.#renewTimer = setTimeout(renew, every);
  }

  /**
   * Runs `work` every `ms` while the run goes on; a failure is logged once until it works
   * again, not fatal.
   */
  #every(ms: number, work: () => Promise<void>): void {
    if (this.#state !== "running") return;
    let busy = false;
    let failing = false;
    this.#timers.push(setInterval(() => {
      if (busy) return;
      busy = true;
      work().then(() => failing = false, (error) => {
        if (!failing) {
          logWaiting(this.#options.logger, "frontier upkeep failed", { task: this.name, error });
        }
        failing = true;
      }).finally(() => busy = false);
    }, ms));
  }

  #end(state: RunState, reason?: unknown): void {
    if (this.#state !== "running") return;
    this.#state = state;
    this.stats.finishedAt = Date.now();
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers = [];
    clearTimeout(this.#renewTimer);
    // Claims still buffered go back with the others the engine releases.
    this.#buffer = [];
    this.#controller.abort(reason ?? new DOMException(`task ${state}`, "AbortError"));
    this.#resolveDone(state);
  }
}

/**
 * The task's definition as the frontier compares it (`BeginOptions.definition`): its roots,
 * rules, reload and depth, so a task changed between two runs starts a new crawl.
 */
function definitionOf(task: Task, roots: readonly CrawlRequest[]): string {
  const { ruleSet } = task;
  const rules = ruleSet.fingerprint ??
    `${ruleSet.name}:${Object.keys(ruleSet.rules).sort().join(",")}`;
  return JSON.stringify({
    roots: roots.map((r) => `${r.method} ${r.url} ${r.ruleName}`).join("\n"),
    rules: keyHash(rules).toString(16),
    reload: task.options.reload,
    depth: task.options.maxDepth,
  });
}

/** The run's cache key of a request: its URL as found, with a method other than GET. */
function cacheKey(req: CrawlRequest): string {
  return req.method === "GET" ? req.url : `${req.method} ${req.url}`;
}

/**
 * True when a running recrawl task has nothing to fetch until its next visit is due: nothing
 * queued, leased, due or in flight, on any worker (the status shows it `waiting`).
 */
export function isWaiting(stats: TaskStats): boolean {
  const { frontier } = stats;
  return stats.recrawl !== undefined && stats.finishedAt === undefined &&
    stats.inFlight === 0 && frontier.queued === 0 && frontier.leased === 0 &&
    frontier.due === 0 && frontier.scheduled > 0;
}
