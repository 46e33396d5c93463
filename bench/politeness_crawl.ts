/**
 * @module
 * The politeness bench's crawl: the multi-host site crawled whole through the real engine with
 * the default SQLite frontier in a temporary directory, with politeness off or on (robots.txt
 * per host, the per-host schedule in the frontier's database, the defaults: no delay, 8 per
 * host). Parsing on the main thread, so the two differ only by politeness.
 *
 *   deno run --allow-all bench/politeness_crawl.ts URL --polite=0|1 [--concurrency=16]
 *
 * Prints {@linkcode CrawlFigures} as JSON.
 */
import { silentLogger } from "../log/logger.ts";
import { Crawler } from "../spider/crawler.ts";
import { HttpFetcher } from "../spider/fetcher.ts";
import { compileRuleSet } from "../spider/declarative/compile_rule_set.ts";
import { MultiLimiter } from "../spider/rate_limiter.ts";
import { buildTask } from "../spider/task_definition.ts";
import { SqliteSink } from "../storage/sqlite_sink.ts";
import { SqliteFrontier } from "../frontier/sqlite_frontier.ts";
import { SqliteHostStore } from "../spider/politeness/sqlite_host_store.ts";
import { Politeness } from "../spider/politeness/politeness.ts";
import { RobotsCache } from "../spider/politeness/robots_cache.ts";
import { DEFAULT_USER_AGENT } from "../spider/politeness/user_agent_token.ts";
import { cpuSeconds, type CrawlFigures, sampleRss } from "./_process_stats.ts";

function flag(name: string): string | undefined {
  return Deno.args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

if (import.meta.main) {
  const url = Deno.args[0];
  const concurrency = Number(flag("concurrency") ?? 16);
  const polite = flag("polite") === "1";
  const dir = await Deno.makeTempDir({ prefix: "crawler-polite-bench-" });
  const sink = new SqliteSink(`${dir}/bench.db`, { logger: silentLogger, batchSize: 500 });
  const frontier = new SqliteFrontier(`${dir}/frontier.db`);
  const hosts = polite ? new SqliteHostStore(`${dir}/frontier.db`) : undefined;
  const fetcher = new HttpFetcher({ timeoutMs: 30_000, userAgent: () => DEFAULT_USER_AGENT });
  const crawler = new Crawler({
    fetcher,
    sink,
    frontier,
    logger: silentLogger,
    concurrency,
    createLimiter: (limits) => MultiLimiter.fromSpecs(limits),
    randomWait: () => Promise.resolve(),
    politeness: hosts && {
      gate: new Politeness(hosts, new RobotsCache(hosts, { userAgent: DEFAULT_USER_AGENT }), {
        userAgent: DEFAULT_USER_AGENT,
      }),
      defaults: { robots: true, delayMs: 0, perHostConcurrency: 8 },
    },
  });
  const task = buildTask({
    name: "bench",
    url: `${url}/p0`,
    maxDepth: 1000,
    ruleSet: compileRuleSet("bench", {
      rules: {
        page: {
          links: [{ rule: "page" }],
          output: { fields: { title: { regex: "<title>([^<]*)</title>" } } },
        },
      },
    }),
  }, new Map());
  const rss = sampleRss();
  const started = performance.now();
  const run = crawler.start(task);
  await run.done;
  await sink.flush();
  const seconds = (performance.now() - started) / 1000;
  const figures: CrawlFigures = {
    pages: run.stats.fetched,
    failed: run.stats.failed,
    items: sink.stored,
    seconds,
    peakRssBytes: rss.stop(),
    cpuSeconds: cpuSeconds(),
  };
  await crawler.close();
  await sink.close();
  await frontier.close();
  await hosts?.close();
  fetcher.close();
  await Deno.remove(dir, { recursive: true });
  console.log(JSON.stringify(figures));
}
