/**
 * @module
 * Builds the crawl engine and its parts (frontier, fetcher, sink, limiters) from the config, for
 * both the standalone and the cluster worker.
 */
import type { Config } from "../config/config_schema.ts";
import type { Logger } from "../log/logger.ts";
import { Crawler } from "../spider/crawler.ts";
import { HttpFetcher } from "../spider/fetcher.ts";
import { FetchMetrics } from "../metrics/fetch_metrics.ts";
import { BrowserMetrics } from "../metrics/browser_metrics.ts";
import { BrowserFetcher } from "../spider/browser/browser_fetcher.ts";
import { defaultBrowserDir } from "../spider/browser/browser_processes.ts";
import { FetcherSwitch } from "../spider/browser/fetcher_switch.ts";
import { MultiLimiter } from "../spider/rate_limiter.ts";
import { randomWait } from "../spider/random_wait.ts";
import { ParsePool } from "../spider/declarative/parse_pool.ts";
import { delay } from "../async/delay.ts";
import type { Fetcher } from "../spider/fetcher.ts";
import { openSink } from "../storage/open_sink.ts";
import type { ResultSink } from "../storage/result_sink.ts";
import { openHostStore } from "../spider/politeness/open_host_store.ts";
import type { HostStore } from "../spider/politeness/host_store.ts";
import { Politeness } from "../spider/politeness/politeness.ts";
import { RobotsCache } from "../spider/politeness/robots_cache.ts";
import type { Frontier } from "../frontier/frontier.ts";
import { openFrontier } from "../frontier/open_frontier.ts";
import { openFileLimit, socketBudget } from "../spider/open_file_limit.ts";
import { PostgresPools } from "../db/postgres_pool.ts";
import { installPostgresCrashGuard } from "../db/postgres_crash_guard.ts";

export interface Engine {
  crawler: Crawler;
  /** Every task's requests (`frontier.url`), shared with the other workers of a task. */
  frontier: Frontier;
  sink: ResultSink;
  fetcher: HttpFetcher;
  /** Renders the pages of tasks with `Fetcher = "browser"` or a rule's `render` in Chromium. */
  browser: BrowserFetcher;
  /** Pages rendered, render time, browser restarts, pages open (for a worker's `/metrics`). */
  browserMetrics: BrowserMetrics;
  /** Fetches by status class, latency, busiest hosts (for a worker's `/metrics`). */
  fetchMetrics: FetchMetrics;
  /** Runs declarative rules in workers, with a time limit per page. */
  parsers: ParsePool;
  /** robots.txt and per-host schedule, kept with the frontier (docs/frontier.md, "Politeness"). */
  politeness: Politeness;
  /**
   * Stops every task (acknowledging what was fetched, returning the other claims), flushes
   * stored items and releases the fetcher, the frontier and the database.
   */
  close(): Promise<void>;
}

/** Options for {@linkcode createEngine}. */
export interface EngineOptions {
  /**
   * This worker's id: who holds the frontier leases and host slots it takes. Default
   * "crawler.worker-1".
   */
  owner?: string;
  /**
   * Asked before every fetch: while false, fetches wait (until allowed again or their task is
   * stopped). A cluster worker passes its fencing check here. Default: always allowed.
   */
  mayFetch?: () => boolean;
}

/** How long closing waits for an unreachable results database before giving up, ms. */
const SINK_CLOSE_TIMEOUT_MS = 10_000;

/**
 * Opens the frontier and the sink and builds the crawler the config describes. A frontier that
 * cannot be opened is a `ConfigError` (bad URL or file) or a `ServiceUnavailableError` (a
 * Postgres that does not answer).
 */
export async function createEngine(
  config: Config,
  logger: Logger,
  options: EngineOptions = {},
): Promise<Engine> {
  // Every Postgres client of the engine (frontier, results, host state and robots.txt cache)
  // comes from these pools: short connect timeout, capped backoff, outages logged once. The
  // guard keeps a throw from inside the client from ending the process and resets the pools.
  const owner = options.owner ?? "crawler.worker-1";
  const pools = new PostgresPools({ logger: logger.child("postgres") });
  const guard = installPostgresCrashGuard({ onClientError: (error) => pools.clientFailed(error) });
  let frontier: Frontier;
  try {
    frontier = await openFrontier(config.frontier.url, { pools });
  } catch (error) {
    guard[Symbol.dispose]();
    throw error;
  }
  let sink: ResultSink;
  try {
    sink = await openSink(config.storage.sqlURL, {
      logger: logger.child("storage"),
      batchSize: config.storage.batchSize,
      flushIntervalMs: config.storage.flushInterval,
      pools,
    });
  } catch (error) {
    await frontier.close();
    guard[Symbol.dispose]();
    throw error;
  }
  const fetcher = new HttpFetcher({
    timeoutMs: config.fetcher.timeout,
    proxies: config.fetcher.proxy,
    maxConnections: withinFileLimit(config.fetcher.maxConnections, logger),
    idleTimeoutMs: config.fetcher.idleTimeout,
    maxBodyBytes: config.fetcher.maxBodyBytes,
    userAgent: () => config.fetcher.userAgent,
  });
  // Pages that need a browser go to Chromium (launched on first use), the others over HTTP.
  // Making it kills what an earlier run of this worker, killed with -9, left running.
  const browserMetrics = new BrowserMetrics();
  const browser = new BrowserFetcher({
    ...config.browser,
    dataDir: config.browser.dataDir ?? defaultBrowserDir(owner),
    maxBodyBytes: config.fetcher.maxBodyBytes,
    userAgent: () => config.fetcher.userAgent,
    logger: logger.child("browser"),
    observer: browserMetrics,
  });
  browserMetrics.watch(() => browser.stats());
  const pages = new FetcherSwitch(fetcher, browser);
  const fetchMetrics = new FetchMetrics({ topHosts: config.metrics.topHosts });
  const hosts: HostStore = openHostStore(config.frontier.url, {
    pools,
    owner,
    policy: {
      maxBackoffMs: config.politeness.maxBackoffMs,
      // A host slot is held for one fetch, which the fetcher ends at its timeout: a worker that
      // froze or died with slots held gives them back that soon after.
      // A render may wait one render for a page, then take its own: both within the lease.
      slotLeaseMs: Math.max(config.fetcher.timeout, 2 * config.browser.timeoutMs) + 5000,
    },
  });
  // A process of this worker killed mid-fetch left its host slots held until their leases end
  // (35 s by default): freed now, the hosts it was fetching are not kept waiting.
  const freed = await hosts.releaseOwn().catch((error) => {
    logger.warn("could not free the host slots an earlier run of this worker held", { error });
    return 0;
  });
  if (freed > 0) {
    logger.info("freed the host slots an earlier run of this worker held", { slots: freed });
  }
  const robotsLog = logger.child("robots");
  const robots = new RobotsCache(hosts, {
    userAgent: config.fetcher.userAgent,
    ttlMs: config.politeness.robotsCacheMs,
    timeoutMs: Math.max(config.fetcher.timeout, 10_000),
    // Through the fetcher's connections: robots.txt fetches count against the same bound, and
    // the page fetches that follow reuse the host's connection.
    // robots.txt is read once per host: its connection is not worth a kept client.
    fetch: fetcher.fetchFunction({ keepAlive: false }),
    onBlocked: (host, reason) =>
      robotsLog.warn("robots.txt unavailable: host blocked until it can be read", { host, reason }),
  });
  const politeness = new Politeness(hosts, robots, { userAgent: config.fetcher.userAgent });
  const parsers = new ParsePool({
    workers: config.parse.workers,
    timeoutMs: config.parse.timeoutMs,
    logger: logger.child("parse"),
  });
  const crawler = new Crawler({
    // The gate is outside the measurement: a fetch held while fenced is not a slow fetch.
    fetcher: options.mayFetch
      ? gatedFetcher(fetchMetrics.measure(pages), options.mayFetch)
      : fetchMetrics.measure(pages),
    sink,
    frontier,
    owner,
    leaseMs: config.frontier.leaseTime * 1000,
    logger: logger.child("crawler"),
    concurrency: config.fetcher.concurrency,
    retries: config.fetcher.retries,
    createLimiter: (limits) => MultiLimiter.fromSpecs(limits),
    randomWait: async (seconds, signal) => {
      await randomWait(seconds, { signal });
    },
    parseRule: (rule, ctx, run) => parsers.parse(rule, ctx, { run }),
    politeness: {
      gate: politeness,
      defaults: {
        robots: true,
        delayMs: config.politeness.delayMs,
        perHostConcurrency: config.politeness.perHostConcurrency,
      },
    },
  });
  return {
    crawler,
    frontier,
    sink,
    fetcher,
    fetchMetrics,
    browser,
    browserMetrics,
    parsers,
    politeness,
    async close() {
      await crawler.close();
      parsers.close();
      try {
        // Items not stored by then belong to pages not acknowledged: they are crawled again.
        await sink.close({ signal: AbortSignal.timeout(SINK_CLOSE_TIMEOUT_MS) });
      } finally {
        await browser.shutdown(); // logs what fails; every Chromium of this worker is gone
        fetcher.close?.();
        try {
          await hosts.close();
          await frontier.close();
        } finally {
          guard[Symbol.dispose]();
        }
      }
    },
  };
}

/**
 * `maxConnections`, lowered (with a WARN naming the key) when the process may not open that many
 * descriptors: sockets over the limit would fail the crawl's fetches and database files alike.
 */
function withinFileLimit(maxConnections: number, logger: Logger): number {
  const limit = openFileLimit();
  const budget = socketBudget(limit);
  if (budget === undefined || maxConnections <= budget) return maxConnections;
  logger.warn("fetcher.maxConnections lowered to half the open-file limit", {
    maxConnections,
    openFileLimit: limit,
    lowered: budget,
  });
  return budget;
}

/** How often a fetch held at the gate asks again, ms. */
const GATE_POLL_MS = 50;

/** `fetcher`, but each fetch first waits until `mayFetch()` or its request's signal aborts. */
function gatedFetcher(fetcher: Fetcher, mayFetch: () => boolean): Fetcher {
  return {
    async fetch(req) {
      while (!mayFetch()) {
        // The fence stops the task (aborting this signal) right after it closes the gate.
        await delay(GATE_POLL_MS, { signal: req.signal });
      }
      return await fetcher.fetch(req);
    },
    close: () => fetcher.close?.(),
  };
}
