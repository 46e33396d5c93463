/**
 * @module
 * Builds the crawl engine and its parts (fetcher, sink, limiters) from the config, for both
 * the standalone and the cluster worker.
 */
import type { Config } from "../config/config_schema.ts";
import type { Logger } from "../log/logger.ts";
import { Crawler } from "../spider/crawler.ts";
import { HttpFetcher } from "../spider/fetcher.ts";
import { FetchMetrics } from "../metrics/fetch_metrics.ts";
import { MultiLimiter } from "../spider/rate_limiter.ts";
import { randomWait } from "../spider/random_wait.ts";
import { ParsePool } from "../spider/declarative/parse_pool.ts";
import { delay } from "../async/delay.ts";
import type { Fetcher } from "../spider/fetcher.ts";
import { openSink } from "../storage/open_sink.ts";
import type { ResultSink } from "../storage/result_sink.ts";

export interface Engine {
  crawler: Crawler;
  sink: ResultSink;
  fetcher: HttpFetcher;
  /** Fetches by status class, latency, busiest hosts (for a worker's `/metrics`). */
  fetchMetrics: FetchMetrics;
  /** Runs declarative rules in workers, with a time limit per page. */
  parsers: ParsePool;
  /** Stops every task, flushes stored items and releases the fetcher and database. */
  close(): Promise<void>;
}

/** Options for {@linkcode createEngine}. */
export interface EngineOptions {
  /**
   * Asked before every fetch: while false, fetches wait (until allowed again or their task is
   * stopped). A cluster worker passes its fencing check here. Default: always allowed.
   */
  mayFetch?: () => boolean;
}

/** How long closing waits for an unreachable results database before giving up, ms. */
const SINK_CLOSE_TIMEOUT_MS = 10_000;

/** Opens the sink and builds the crawler the config describes. */
export async function createEngine(
  config: Config,
  logger: Logger,
  options: EngineOptions = {},
): Promise<Engine> {
  const sink = await openSink(config.storage.sqlURL, {
    logger: logger.child("storage"),
    batchSize: config.storage.batchSize,
    flushIntervalMs: config.storage.flushInterval,
  });
  const fetcher = new HttpFetcher({
    timeoutMs: config.fetcher.timeout,
    proxies: config.fetcher.proxy,
    maxBodyBytes: config.fetcher.maxBodyBytes,
  });
  const fetchMetrics = new FetchMetrics({ topHosts: config.metrics.topHosts });
  const parsers = new ParsePool({
    workers: config.parse.workers,
    timeoutMs: config.parse.timeoutMs,
    logger: logger.child("parse"),
  });
  const crawler = new Crawler({
    // The gate is outside the measurement: a fetch held while fenced is not a slow fetch.
    fetcher: options.mayFetch
      ? gatedFetcher(fetchMetrics.measure(fetcher), options.mayFetch)
      : fetchMetrics.measure(fetcher),
    sink,
    logger: logger.child("crawler"),
    concurrency: config.fetcher.concurrency,
    retries: config.fetcher.retries,
    createLimiter: (limits) => MultiLimiter.fromSpecs(limits),
    randomWait: async (seconds, signal) => {
      await randomWait(seconds, { signal });
    },
    parseRule: (rule, ctx, run) => parsers.parse(rule, ctx, { run }),
  });
  return {
    crawler,
    sink,
    fetcher,
    fetchMetrics,
    parsers,
    async close() {
      await crawler.close();
      parsers.close();
      try {
        // Items not stored by then belong to pages not acknowledged: they are crawled again.
        await sink.close({ signal: AbortSignal.timeout(SINK_CLOSE_TIMEOUT_MS) });
      } finally {
        fetcher.close?.();
      }
    },
  };
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
