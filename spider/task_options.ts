/**
 * @module
 * A task's options, resolved from the config or an API spec over its rule set's defaults.
 */
import type { FetcherKind } from "./browser/render_options.ts";
import type { LimitSpec } from "./limit_spec.ts";
import type { RecrawlPolicy } from "./recrawl.ts";

/** A task's own politeness settings; unset ones come from the config's `politeness` section. */
export interface TaskPolitenessOverrides {
  /** Obey robots.txt (and its Crawl-delay). */
  robots?: boolean;
  /** Minimum ms between requests to one host. */
  delayMs?: number;
  /** Most requests in flight to one host. */
  perHostConcurrency?: number;
  /** Send a random desktop browser User-Agent instead of `fetcher.userAgent`. */
  randomUserAgent?: boolean;
}

export interface TaskOptions {
  /** The task's unique name (also its results table). */
  name: string;
  /** The base URL the rule set's root starts from. */
  url: string;
  cookie?: string;
  /** Random wait before each fetch, in [0, waitTime) seconds. */
  waitTime: number;
  /** Fetch URLs again even if already visited. */
  reload: boolean;
  maxDepth: number;
  /** All must allow a fetch; empty means no limit. */
  limits: LimitSpec[];
  /** Politeness set on the task itself (config `Robots`/`Politeness`, spec `robots`/`politeness`). */
  politeness?: TaskPolitenessOverrides;
  /**
   * `"browser"`: every page is rendered in Chromium (config `Fetcher`, spec `fetcher`). Default
   * HTTP; a declarative rule's `render` renders its own pages either way.
   */
  fetcher?: FetcherKind;
  /**
   * Fetch every page again once its interval has passed (config `Recrawl`, spec `recrawl`;
   * docs/frontier.md, "Recrawl"): the crawl never finishes. A rule's own policy
   * (`RuleSet.recrawl`) overrides it for that rule's pages. Default: each page once.
   */
  recrawl?: RecrawlPolicy;
}
