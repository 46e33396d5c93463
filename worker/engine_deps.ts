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

/** How long closing waits for an unreachable results database before giving up, ms. */
const SINK_CLOSE_TIMEOUT_MS = 10_000;

/** Opens the sink and builds the crawler the config describes. */
export async function createEngine(config: Config, logger: Logger): Promise<Engine> {
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
  const parsers = new ParsePool({ logger: logger.child("parse") });
  const crawler = new Crawler({
    fetcher: fetchMetrics.measure(fetcher),
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
