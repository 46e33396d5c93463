/**
 * @module
 * Which pages are rendered in a browser, and how: a task's `Fetcher = "browser"` renders all of
 * its pages, a declarative rule's `render` the pages that rule parses.
 */
import type { Task } from "../task.ts";

/** When a rendered page is read: at the `load` event, at `DOMContentLoaded`, or once idle. */
export type WaitUntil = "load" | "domcontentloaded" | "networkidle";

/** The `WaitUntil` values, for schemas. */
export const WAIT_UNTIL_VALUES = ["load", "domcontentloaded", "networkidle"] as const;

/** How one page is rendered (a rule's `render`, or `{}` for a task whose fetcher is the browser). */
export interface RenderOptions {
  /** A CSS selector the page must show before it is read; a page that never does times out. */
  waitFor?: string;
  /**
   * When the page is read. Default `"networkidle"`: after `load`, once no request has been in
   * flight for `[browser] idleMs`, so an app that fills itself from an API after `load` is read
   * complete.
   */
  waitUntil?: WaitUntil;
}

/** Which fetcher a task asks for: plain HTTP (the default) or a browser that renders every page. */
export type FetcherKind = "http" | "browser";

/**
 * The fetcher a config `Tasks` entry's `Fetcher` names: `"browser"` (any case) renders pages,
 * anything else (the Go project's other values, or none) fetches over HTTP.
 */
export function fetcherKindOf(value: string | undefined): FetcherKind | undefined {
  if (value === undefined) return undefined;
  return value.trim().toLowerCase() === "browser" ? "browser" : "http";
}

/**
 * How a request for `ruleName` of `task` is rendered, or undefined when it is fetched over
 * HTTP: the rule's own `render` first, else `{}` when the task's fetcher is the browser — unless
 * the rule's files are data read over HTTP (`RuleFetch.http` or `stream`: robots.txt, sitemaps).
 *
 * @example
 * ```ts
 * const render = renderOf(run.task, req.ruleName);
 * await fetcher.fetch({ url, method: "GET", render });
 * ```
 */
export function renderOf(task: Task, ruleName: string): RenderOptions | undefined {
  const fetch = task.ruleSet.rules[ruleName]?.fetch;
  if (fetch?.http || fetch?.stream) return undefined;
  const own = task.ruleSet.render?.[ruleName];
  if (own) return own;
  return task.options.fetcher === "browser" ? {} : undefined;
}

/** True if any page of `task` may be rendered (its fetcher is the browser, or a rule renders). */
export function taskRenders(task: Task): boolean {
  return task.options.fetcher === "browser" ||
    Object.keys(task.ruleSet.render ?? {}).length > 0;
}
