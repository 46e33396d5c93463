/**
 * @module
 * The config file's schema: the Go project's `config.toml` layout, checked with zod.
 * Every field is optional so a user's Go config loads as it is; defaults are applied here.
 */
import { z } from "zod";
import { declarativeSpecSchema, startUrlOf } from "../spider/declarative/spec_schema.ts";
import { politenessTaskConfigShape } from "../spider/politeness/politeness_spec.ts";
import { DEFAULT_USER_AGENT } from "../spider/politeness/user_agent_token.ts";
import { defaultMaxConnections } from "../spider/connection_pool.ts";
import { BLOCKABLE_RESOURCE_TYPES } from "../spider/browser/resource_types.ts";
import { limitSpecSchema } from "../spider/limit_spec.ts";
import {
  addRecrawlIssues,
  recrawlConfigSchema,
  recrawlSpecFromConfig,
} from "../spider/recrawl_spec.ts";

const positiveInt = z.number().int().positive();
const nonNegative = z.number().nonnegative();

/**
 * One `Limits` entry: `EventCount` events per `EventDur` seconds with a burst of `Bucket`; the
 * Go project's key names over the checks of the one rate-limit type (`spider/limit_spec.ts`).
 */
export const limitConfigSchema = z.object({
  EventCount: limitSpecSchema.shape.eventCount,
  EventDur: limitSpecSchema.shape.eventDur,
  Bucket: limitSpecSchema.shape.bucket,
});
export type LimitConfig = z.infer<typeof limitConfigSchema>;

/** One `Tasks` entry. Missing options fall back to the rule set's own defaults. */
export const taskConfigSchema = z.object({
  Name: z.string().min(1),
  Rule: z.string().min(1).optional(),
  URL: z.url().optional(),
  WaitTime: nonNegative.optional(),
  Reload: z.boolean().optional(),
  MaxDepth: z.number().int().nonnegative().optional(),
  Fetcher: z.string().optional(),
  Limits: z.array(limitConfigSchema).optional(),
  Cookie: z.string().optional(),
  /**
   * A declarative rule set instead of a built-in `Rule` (docs/rules.md, "Declarative rule sets").
   */
  Spec: declarativeSpecSchema.optional(),
  /**
   * How many workers crawl the task together in a cluster (docs/operating.md, "Crawl with several
   * workers"). Default 1.
   */
  Workers: z.number().int().min(1).max(64).optional(),
  /**
   * Fetch every page again once its interval has passed (docs/config.md, "Recrawl"):
   * `{Interval, Min, Max, Adaptive}`, durations as `"90s"`, `"15m"`, `"24h"`, `"14d"` or ms.
   */
  Recrawl: recrawlConfigSchema.optional(),
  ...politenessTaskConfigShape,
}).superRefine((task, ctx) => {
  // The task's Recrawl over the defaults, and its Spec rules' recrawl over the task's.
  addRecrawlIssues(
    ctx,
    task.Recrawl && recrawlSpecFromConfig(task.Recrawl),
    task.Spec?.rules,
    {
      taskPath: ["Recrawl"],
      rulesPath: ["Spec", "rules"],
      taskKey: (key) => key[0].toUpperCase() + key.slice(1),
      prefix: `task "${task.Name}": `,
    },
  );
  if (task.Spec === undefined) return;
  if (task.Rule !== undefined) {
    ctx.addIssue({ code: "custom", path: ["Rule"], message: "give Rule or Spec, not both" });
  }
  if (task.URL === undefined && startUrlOf(task.Spec) === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["URL"],
      message: "required with a Spec that has no absolute root or sitemap url to start from",
    });
  }
});
export type TaskConfig = z.infer<typeof taskConfigSchema>;

const serverSectionShape = {
  RegistryAddress: z.string().min(1).default("127.0.0.1:2379"),
  RegisterTTL: positiveInt.default(60),
  RegisterInterval: positiveInt.default(15),
  ClientTimeOut: positiveInt.default(10),
  HTTPListenAddress: z.string().optional(),
  GRPCListenAddress: z.string().optional(),
  ID: z.union([z.string(), z.number()]).transform(String).optional(),
};

export const configSchema = z.object({
  logLevel: z.string().toLowerCase().pipe(z.enum(["debug", "info", "warn", "error"])).default(
    "info",
  ),
  Tasks: z.array(taskConfigSchema).default([]),
  fetcher: z.object({
    timeout: positiveInt.default(3000),
    proxy: z.array(z.url()).default([]),
    concurrency: positiveInt.max(1024).default(8),
    /**
     * Most sockets open at once, in flight and idle, robots.txt fetches included. Default
     * `defaultMaxConnections(concurrency)`: 2 × concurrency, at least 32.
     */
    maxConnections: positiveInt.optional(),
    /** ms an unused connection to a host is kept open. */
    idleTimeout: z.number().int().nonnegative().default(2000),
    maxBodyBytes: positiveInt.default(10 * 1024 * 1024),
    retries: z.number().int().nonnegative().max(10).default(1),
    /**
     * Sent with every request, and the token robots.txt groups are matched against
     * (docs/frontier.md, "Politeness").
     */
    userAgent: z.string().trim().min(1).default(DEFAULT_USER_AGENT),
  }).superRefine((fetcher, ctx) => {
    // Every fetch holds a socket: fewer sockets than fetch slots would cap concurrency silently.
    if (fetcher.maxConnections !== undefined && fetcher.maxConnections < fetcher.concurrency) {
      ctx.addIssue({
        code: "custom",
        path: ["maxConnections"],
        message: `must be at least fetcher.concurrency (${fetcher.concurrency}): ` +
          `every fetch in flight holds a connection`,
      });
    }
  }).transform((fetcher) => ({
    ...fetcher,
    maxConnections: fetcher.maxConnections ?? defaultMaxConnections(fetcher.concurrency),
  })).prefault({}),
  /**
   * Per-host politeness (docs/frontier.md, "Politeness"); a task's `Politeness` overrides the first
   * two.
   */
  politeness: z.object({
    delayMs: z.number().int().nonnegative().max(3_600_000).default(0),
    perHostConcurrency: positiveInt.max(1024).default(8),
    /** How long a fetched robots.txt is used before it is fetched again. */
    robotsCacheMs: positiveInt.default(86_400_000),
    /** Cap on a Retry-After block and on the delay backed off after 429/503. */
    maxBackoffMs: positiveInt.default(300_000),
  }).prefault({}),
  storage: z.object({
    sqlURL: z.string().regex(
      /^(sqlite:.+|postgres(ql)?:\/\/.+)$/,
      "expected sqlite:PATH or postgres://user:pass@host:port/db",
    ).default("sqlite:data/crawler.db"),
    batchSize: positiveInt.default(100),
    flushInterval: positiveInt.default(1000),
  }).prefault({}),
  /**
   * Chromium for the pages that need a browser (`Fetcher = "browser"`, a rule's `render`): one
   * browser per worker process, launched on first use (see `BrowserPool`).
   */
  browser: z.object({
    /** The Chromium binary. Default: `CHROMIUM_PATH`, else Debian's `/usr/bin/chromium`. */
    executablePath: z.string().min(1).optional(),
    /** Most pages open at once, across every task. */
    maxPages: positiveInt.max(64).default(4),
    /** A browser that has rendered this many pages is replaced by a fresh one. */
    retireAfterPages: positiveInt.default(200),
    /** ms a page may take from navigation to its rendered DOM read; then "render timeout". */
    timeoutMs: positiveInt.max(600_000).default(15_000),
    /** ms without a request in flight after `load` before a page counts as settled. */
    idleMs: z.number().int().nonnegative().max(60_000).default(500),
    /** Request types the pages may not load (puppeteer's lowercase resource types). */
    block: z.array(z.enum(BLOCKABLE_RESOURCE_TYPES)).default(["image", "media", "font"]),
    /** Let pages load from hosts other than their own (scripts, APIs, frames). */
    allowThirdParty: z.boolean().default(false),
    /** Where browser profiles and the pid file go. Default `<tmp>/crawler-browser-<worker id>`. */
    dataDir: z.string().min(1).optional(),
  }).prefault({}),
  /** Parse workers for declarative rules (see `ParsePool`). */
  parse: z.object({
    /** Worker threads; 0 parses on the main thread, without a time limit. Default: cores, ≤ 4. */
    workers: z.number().int().nonnegative().max(64).optional(),
    /** ms a rule may parse one page before it is stopped, unless its spec sets `parseTimeoutMs`. */
    timeoutMs: positiveInt.max(600_000).default(10_000),
  }).prefault({}),
  /**
   * Where every task's requests live (docs/frontier.md, "The frontier"): embedded SQLite, or
   * Postgres shared by workers.
   */
  frontier: z.object({
    url: z.string().regex(
      /^(sqlite:.+|postgres(ql)?:\/\/.+|memory:)$/,
      "expected sqlite:PATH or postgres://user:pass@host:port/db",
    ).default("sqlite:data/frontier.db"),
    /** Seconds a claimed request stays with a worker that stops renewing it (one that died). */
    leaseTime: positiveInt.default(30),
  }).prefault({}),
  /**
   * Who may call the APIs (docs/operating.md, "Auth"); `CRAWLER_TOKEN` in the environment wins over
   * `token`.
   */
  auth: z.object({
    /** The bearer token every HTTP request and gRPC call must carry. */
    token: z.string().min(1).optional(),
    /** `"open"` serves `/metrics` without the token (for a scraper without one). */
    metrics: z.enum(["token", "open"]).default("token"),
  }).prefault({}),
  /** Prometheus metrics (docs/operating.md, "Metrics"). */
  metrics: z.object({
    /**
     * How many hosts get their own `host` label on the per-host counters; the rest are counted
     * under `host="other"`. 0 turns per-host series off.
     */
    topHosts: z.number().int().nonnegative().max(1000).default(20),
  }).prefault({}),
  GRPCServer: z.object({ ...serverSectionShape, Name: z.string().min(1).default("crawler.worker") })
    .prefault({}),
  MasterServer: z.object({
    ...serverSectionShape,
    Name: z.string().min(1).default("crawler.master"),
    /**
     * Seconds of the election lease: how long a crashed leader keeps leadership. The Go project
     * used a 5 s session for its election, separate from the registry's `RegisterTTL`.
     */
    ElectionTTL: positiveInt.default(5),
    /**
     * Seconds the leader waits after a worker's registration vanishes before it moves that
     * worker's tasks, so a re-registration a moment later (an etcd restart, a slow keep-alive)
     * moves nothing. Capped at `GRPCServer.RegisterTTL`.
     */
    WorkerGrace: nonNegative.default(3),
    /** Whether the leader moves tasks to even out the workers' loads. */
    Rebalance: z.boolean().default(true),
    /** Seconds between rebalancing rounds. */
    RebalanceInterval: z.number().positive().default(2),
    /** Most placements moved per rebalancing round. */
    RebalanceMaxMoves: positiveInt.default(10),
    /** A round moves tasks only when the busiest and idlest workers differ by more than this. */
    RebalanceThreshold: positiveInt.default(1),
    /**
     * Seconds the leader remembers a write's `Idempotency-Key` (and what it answered): a retry
     * with the key within this window is answered as the first attempt was.
     */
    IdempotencyWindow: z.number().positive().default(600),
  }).prefault({}),
}).superRefine((config, ctx) => {
  // Several workers can only share a task through a frontier they all reach (docs/operating.md,
  // "Crawl with several workers").
  if (isSharedFrontier(config.frontier.url)) return;
  config.Tasks.forEach((task, index) => {
    if ((task.Workers ?? 1) > 1) {
      ctx.addIssue({
        code: "custom",
        path: ["Tasks", index, "Workers"],
        message: sharedFrontierMessage(config.frontier.url),
      });
    }
  });
});

/** True for a frontier every worker of a cluster reaches: Postgres. */
export function isSharedFrontier(url: string): boolean {
  return /^postgres(ql)?:\/\//.test(url);
}

/** Why a task cannot run on several workers with the frontier at `url`. */
export function sharedFrontierMessage(url: string): string {
  return `more than one worker needs a frontier the workers share: frontier.url is "${url}", ` +
    `which each worker keeps to itself; set frontier.url = "postgres://…"`;
}

export type Config = z.infer<typeof configSchema>;
