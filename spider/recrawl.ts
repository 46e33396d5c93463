/**
 * @module
 * Revisits (docs/frontier.md, "Recrawl"): a task with a recrawl policy fetches each of its pages
 * again once its interval has passed, with a conditional GET, and adapts the interval to how
 * often the page changes (StormCrawler's AdaptiveScheduler, Nutch's adaptive fetch schedule):
 * ×1.5 up to `maxMs` while it does not, ÷2 down to `minMs` when it does.
 */
import { keyHash } from "../frontier/key_hash.ts";
import type { Item } from "./item.ts";
import type { CrawlRequest } from "../frontier/crawl_request.ts";

/** How often a task's (or a rule's) pages are fetched again. */
export interface RecrawlPolicy {
  /** The interval of a page fetched for the first time, ms. */
  intervalMs: number;
  /** The shortest interval an adaptive schedule shrinks to, ms. */
  minMs: number;
  /** The longest interval an adaptive schedule grows to, ms. */
  maxMs: number;
  /** Adapt the interval to how often the page changes. */
  adaptive: boolean;
}

/** What a revisit found. */
export type RevisitResult =
  /** The first fetch of the page (nothing to compare with). */
  | "new"
  /** The server answered 304 Not Modified. */
  | "not-modified"
  /** A 200 whose rule output hashes as last time. */
  | "unchanged"
  /** A 200 whose rule output differs from last time. */
  | "changed";

/** The growth of an interval while a page stays the same, and its shrink when it changes. */
export const GROW = 1.5;
export const SHRINK = 2;

/** The defaults of a `Recrawl` section that sets only some keys. */
export const DEFAULT_RECRAWL: Readonly<RecrawlPolicy> = Object.freeze({
  intervalMs: 24 * 3_600_000,
  minMs: 3_600_000,
  maxMs: 14 * 86_400_000,
  adaptive: true,
});

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * A duration as written in a config or spec: `"90s"`, `"15m"`, `"24h"`, `"14d"`, `"250ms"`, or
 * a number of milliseconds. Throws a message naming the value for anything else.
 */
export function parseDuration(value: string | number): number {
  if (typeof value === "number") {
    if (Number.isFinite(value) && value > 0) return value;
    throw new Error(`a duration must be a positive number of ms, not ${value}`);
  }
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
  const ms = match ? Number(match[1]) * UNITS[match[2] ?? "ms"] : NaN;
  if (!(ms > 0)) {
    throw new Error(
      `"${value}" is not a duration: write it as "90s", "15m", "24h", "14d" or milliseconds`,
    );
  }
  return ms;
}

/** A duration written back as the shortest exact `"<n><unit>"`, for status and logs. */
export function formatDuration(ms: number): string {
  for (const unit of ["d", "h", "m", "s"]) {
    const n = ms / UNITS[unit];
    if (n >= 1 && Number.isInteger(n)) return `${n}${unit}`;
  }
  return `${Math.round(ms)}ms`;
}

/**
 * A policy from written parts over `base` (a rule's over its task's, a task's over the
 * defaults). Throws when `min > max`, or the interval lies outside them.
 */
export function recrawlPolicy(
  parts: {
    interval?: string | number;
    min?: string | number;
    max?: string | number;
    adaptive?: boolean;
  },
  base: Readonly<RecrawlPolicy> = DEFAULT_RECRAWL,
): RecrawlPolicy {
  const intervalMs = parts.interval === undefined ? base.intervalMs : parseDuration(parts.interval);
  // A short interval with the default bounds lowers the floor to it (and a long one the ceiling).
  const minMs = parts.min === undefined
    ? Math.min(base.minMs, intervalMs)
    : parseDuration(parts.min);
  const maxMs = parts.max === undefined
    ? Math.max(base.maxMs, intervalMs)
    : parseDuration(parts.max);
  if (minMs > maxMs) {
    throw new Error(
      `recrawl min (${formatDuration(minMs)}) is above max (${formatDuration(maxMs)})`,
    );
  }
  if (intervalMs < minMs || intervalMs > maxMs) {
    throw new Error(
      `recrawl interval (${formatDuration(intervalMs)}) is outside min..max ` +
        `(${formatDuration(minMs)}..${formatDuration(maxMs)})`,
    );
  }
  return { intervalMs, minMs, maxMs, adaptive: parts.adaptive ?? base.adaptive };
}

/**
 * The interval until the page's next visit, after a visit found `result`; `previousMs` is the
 * interval that visit was scheduled with (absent on a first fetch).
 */
export function nextInterval(
  policy: RecrawlPolicy,
  result: RevisitResult,
  previousMs: number | undefined,
): number {
  if (!policy.adaptive || previousMs === undefined || result === "new") return policy.intervalMs;
  const next = result === "changed" ? previousMs / SHRINK : previousMs * GROW;
  return Math.round(Math.min(policy.maxMs, Math.max(policy.minMs, next)));
}

/**
 * The hash of what a rule made of a page: its items' keys and data, and the links it followed,
 * in order. Pages carry timestamps and tokens that change on every fetch; what a rule takes from
 * them mostly does not.
 */
export function outputHash(items: readonly Item[], requests: readonly CrawlRequest[]): string {
  const parts: string[] = [];
  for (const item of items) parts.push(`i ${item.key} ${stableJson(item.data)}`);
  for (const req of requests) parts.push(`l ${req.method} ${req.url} ${req.ruleName}`);
  return keyHash(parts.join("\n")).toString(16);
}

/** JSON with object keys sorted, so one output always hashes alike. */
function stableJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_key, v) =>
      v !== null && typeof v === "object" && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
        : v,
  );
}

/** What of a task says how its pages are recrawled (a `Task` has it). */
export interface RecrawlingTask {
  options: { recrawl?: RecrawlPolicy };
  ruleSet: { recrawl?: Readonly<Record<string, RecrawlPolicy>> };
}

/**
 * The recrawl policy of a rule's pages in `task`: the rule's own, else the task's; undefined
 * when they are fetched once.
 */
export function recrawlOf(
  task: RecrawlingTask,
  ruleName: string,
): RecrawlPolicy | undefined {
  return task.ruleSet.recrawl?.[ruleName] ?? task.options.recrawl;
}

/** True when some of the task's pages are revisited. */
export function recrawls(
  task: RecrawlingTask,
): boolean {
  return task.options.recrawl !== undefined || Object.keys(task.ruleSet.recrawl ?? {}).length > 0;
}
