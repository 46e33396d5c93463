/**
 * @module
 * Rule sets: a task's rule tree (a root plus named rules) and its default options.
 */
import type { CrawlRequest, RequestInit } from "../frontier/crawl_request.ts";
import type { Item } from "./item.ts";
import type { ParseContext } from "./parse_context.ts";
import type { LimitSpec } from "./limit_spec.ts";
import type { RenderOptions } from "./browser/render_options.ts";
import type { RecrawlPolicy } from "./recrawl.ts";

/** What a rule produces from one page. */
export interface ParseResult {
  requests?: CrawlRequest[];
  items?: Item[];
  /** Sitemap files this parse read and the page URLs they listed (the internal sitemap rule). */
  sitemap?: { files: number; urls: number };
}

/**
 * How a rule's pages are fetched when not as the task's other pages are: the internal sitemap
 * rules read files that are data, not pages, and may be far bigger than a page.
 */
export interface RuleFetch {
  /**
   * Fetched over HTTP even in a task whose fetcher is the browser: the body is data (robots.txt,
   * a sitemap), not a page to render. Default false.
   */
  http?: boolean;
  /** Largest body accepted, bytes. Default: the fetcher's (`fetcher.maxBodyBytes`). */
  maxBodyBytes?: number;
  /**
   * The body is read as it arrives, through `ParseContext.chunks()`, and never held whole; the
   * fetch's slot and its host's turn last until the rule has read it. Implies `http`.
   */
  stream?: boolean;
}

/** A named rule: parses one fetched page into new requests and items. */
export interface Rule {
  /** The fields of the items this rule outputs (a column each in SQL). */
  itemFields?: readonly string[];
  /** How its pages are fetched, when not as the task's others are. Default: as the others. */
  fetch?: RuleFetch;
  parse(ctx: ParseContext): ParseResult | Promise<ParseResult>;
  /**
   * What to queue instead of a page that could not be fetched, once its last attempt failed
   * (robots.txt missing: `<origin>/sitemap.xml`): the request then counts as done with these
   * children, not as failed. Undefined: it fails as usual. Default: none.
   */
  recover?(req: CrawlRequest, error: unknown): ParseResult | undefined;
}

/** The options a rule set suggests; a task's own options override them. */
export interface RuleSetDefaults {
  url: string;
  waitTime?: number;
  maxDepth?: number;
  reload?: boolean;
  cookie?: string;
  limits?: LimitSpec[];
}

/** A rule tree: `root` yields the first requests from the task's base URL; `rules` parse pages. */
export interface RuleSet {
  name: string;
  defaults: RuleSetDefaults;
  root(base: { url: string }): RequestInit[];
  rules: Readonly<Record<string, Rule>>;
  /**
   * How each rule reads pages, for the task status (declarative rule sets): `scan`, `stream`,
   * or `dom` with the reason the DOM is needed.
   */
  parsePaths?: Readonly<Record<string, { path: string; reason?: string }>>;
  /** Rules whose pages are rendered in a browser (a declarative rule's `render`), by rule name. */
  render?: Readonly<Record<string, RenderOptions>>;
  /**
   * Rules whose pages are revisited on their own schedule (a declarative rule's `recrawl`), by
   * rule name, over the task's `recrawl`: listings more often than details. A rule's policy
   * makes its pages revisited even in a task without one.
   */
  recrawl?: Readonly<Record<string, RecrawlPolicy>>;
  /**
   * What the rules are, for telling a changed task (a declarative spec's JSON). Without it the
   * rule set is known by its name and rule names.
   */
  fingerprint?: string;
}
