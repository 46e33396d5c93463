/**
 * @module
 * The bench's engine crawl: a bench site crawled whole through the real engine (Crawler,
 * HttpFetcher, a SQLite sink in a temporary directory) with a declarative rule set — every
 * same-host `a[href]` link followed, each page's title stored by regular expression
 * (`--rules=regex`, the default), or the title and two more fields by CSS selector
 * (`--rules=selector`; `selector-to-end` with a footer field, `selector-dom` through linkedom)
 * — at the given concurrency.
 *
 *   deno run --allow-all bench/engine_crawl.ts URL [--concurrency=16] [--workers=N] [--rules=regex]
 *
 * `--workers` is the parse pool's size (default: the pool's own; 0 parses on the main thread).
 * Prints {@linkcode CrawlFigures} as JSON.
 */
import { silentLogger } from "../log/logger.ts";
import { Crawler } from "../spider/crawler.ts";
import { HttpFetcher } from "../spider/fetcher.ts";
import { compileRuleSet } from "../spider/declarative/compile_rule_set.ts";
import { ParsePool } from "../spider/declarative/parse_pool.ts";
import type { DeclarativeSpec } from "../spider/declarative/spec_schema.ts";
import { MultiLimiter } from "../spider/rate_limiter.ts";
import { buildTask } from "../spider/task_definition.ts";
import { SqliteSink } from "../storage/sqlite_sink.ts";
import { cpuSeconds, type CrawlFigures, sampleRss } from "./_process_stats.ts";

/** The whole-site rule set the bench runs. */
export const wholeSiteSpec = {
  rules: {
    page: {
      links: [{ rule: "page", sameHost: true }],
      output: { fields: { title: { regex: "<title>([^<]*)</title>" } } },
    },
  },
};

/**
 * The same crawl with fields read by selector, as most users write rules: the title, the page's
 * heading (after the navigation) and the first parameter of the article's first table (in the
 * middle of the article). The streaming pass stops once it has them.
 */
export const selectorSiteSpec = {
  rules: {
    page: {
      links: [{ rule: "page", sameHost: true }],
      output: {
        fields: {
          title: { selector: "title" },
          heading: { selector: "main h1" },
          param: { selector: "article table.params td code" },
        },
      },
    },
  },
};

/**
 * The worst case for the streaming pass: the second field is an attribute in the footer, so every
 * page is read to its end.
 */
export const selectorToEndSiteSpec = {
  rules: {
    page: {
      links: [{ rule: "page", sameHost: true }],
      output: {
        fields: {
          title: { selector: "title" },
          heading: { selector: "main h1" },
          updated: { selector: "footer .updated time", attr: "datetime" },
        },
      },
    },
  },
};

/**
 * {@linkcode selectorSiteSpec} with each selector given a `:not(…)` that matches everything,
 * which is outside the streaming subset: the same values, read from linkedom's DOM.
 */
export const selectorDomSiteSpec = {
  rules: {
    page: {
      links: [{ rule: "page", sameHost: true }],
      output: {
        fields: Object.fromEntries(
          Object.entries(selectorSiteSpec.rules.page.output.fields).map((
            [name, field],
          ) => [name, { ...field, selector: `${field.selector}:not(.never-used)` }]),
        ),
      },
    },
  },
};

function flag(name: string): string | undefined {
  return Deno.args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

const specs: Record<string, DeclarativeSpec> = {
  regex: wholeSiteSpec,
  selector: selectorSiteSpec,
  "selector-to-end": selectorToEndSiteSpec,
  "selector-dom": selectorDomSiteSpec,
};

if (import.meta.main) {
  const url = Deno.args[0];
  const concurrency = Number(flag("concurrency") ?? 16);
  const workers = flag("workers");
  const dir = await Deno.makeTempDir({ prefix: "crawler-bench-" });
  const sink = new SqliteSink(`${dir}/bench.db`, { logger: silentLogger, batchSize: 500 });
  const fetcher = new HttpFetcher({ timeoutMs: 30_000 });
  const parsers = new ParsePool({ workers: workers === undefined ? undefined : Number(workers) });
  const crawler = new Crawler({
    fetcher,
    sink,
    logger: silentLogger,
    concurrency,
    createLimiter: (limits) => MultiLimiter.fromSpecs(limits),
    randomWait: () => Promise.resolve(),
    parseRule: (rule, ctx, run) => parsers.parse(rule, ctx, { run }),
  });
  const task = buildTask({
    name: "bench",
    url: `${url}/`,
    maxDepth: 1000,
    ruleSet: compileRuleSet("bench", specs[flag("rules") ?? "regex"]),
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
    // Read before the parse workers end: their threads' time leaves the count with them.
    cpuSeconds: cpuSeconds(),
  };
  await crawler.close();
  parsers.close();
  await sink.close();
  fetcher.close();
  await Deno.remove(dir, { recursive: true });
  console.log(JSON.stringify(figures));
}
