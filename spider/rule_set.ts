/**
 * @module
 * Rule sets: a task's rule tree (a root plus named rules) and its default options.
 */
import type { CrawlRequest, RequestInit } from "./request.ts";
import type { Item } from "./item.ts";
import type { ParseContext } from "./parse_context.ts";
import type { LimitOptions } from "./task_options.ts";
import type { RenderOptions } from "./browser/render_options.ts";

/** What a rule produces from one page. */
export interface ParseResult {
  requests?: CrawlRequest[];
  items?: Item[];
  /** Sitemap files this parse read and the page URLs they listed (the internal sitemap rule). */
  sitemap?: { files: number; urls: number };
}

/** A named rule: parses one fetched page into new requests and items. */
export interface Rule {
  /** The fields of the items this rule outputs (a column each in SQL). */
  itemFields?: readonly string[];
  parse(ctx: ParseContext): ParseResult | Promise<ParseResult>;
}

/** The options a rule set suggests; a task's own options override them. */
export interface RuleSetDefaults {
  url: string;
  waitTime?: number;
  maxDepth?: number;
  reload?: boolean;
  cookie?: string;
  limits?: LimitOptions[];
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
   * What the rules are, for telling a changed task (a declarative spec's JSON). Without it the
   * rule set is known by its name and rule names.
   */
  fingerprint?: string;
}
