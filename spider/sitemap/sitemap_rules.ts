/**
 * @module
 * The internal rules that read a task's sitemaps: `__sitemap_robots` finds them in robots.txt,
 * `__sitemap` reads one sitemap file (an index's children go back to the frontier as more
 * `__sitemap` requests; the pages listed go to the task's rule). Each file is a frontier request
 * like any page, so it is leased, retried, polite, deduplicated and not read again after a
 * restart once acknowledged. They are plain rules: they run on the main thread and read a
 * sitemap's bytes as they arrive (up to the protocol's 50 MiB, not a page's
 * `fetcher.maxBodyBytes`), so a big file is never held whole. A robots.txt that cannot be
 * fetched (404) stands for one without `Sitemap:` lines: `<origin>/sitemap.xml` is read instead.
 */
import type { ParseContext } from "../parse_context.ts";
import { type CrawlRequest, type RequestInit, toRequest } from "../../frontier/crawl_request.ts";
import type { ParseResult, Rule, RuleFetch } from "../rule_set.ts";
import type { SitemapsSpec } from "../declarative/sitemap_spec.ts";
import { MAX_SITEMAP_BYTES, parseSitemap } from "./sitemap_parser.ts";

/** The rule that reads a sitemap file. */
export const SITEMAP_RULE = "__sitemap";
/** The rule that reads robots.txt for `Sitemap:` lines. */
export const SITEMAP_ROBOTS_RULE = "__sitemap_robots";
/** Deepest sitemap index level read: a root sitemap is level 0, an index's children one more. */
export const MAX_SITEMAP_LEVEL = 10;
/** Sitemap files are fetched before pages, so the frontier learns of pages early. */
const SITEMAP_PRIORITY = 1;

/** What `tmp` carries on a sitemap request. */
interface SitemapTmp {
  /** Nesting level: 0 for a root sitemap. */
  level?: number;
  /** The host the listed pages must be on (with `sameHost`). */
  host?: string;
}

/**
 * The first requests of a task with `sitemaps`: its `urls`, or the robots.txt of `base`'s host.
 *
 * @example
 * ```ts
 * sitemapRoots({ rule: "page" }, "http://example.com/"); // [{url: "http://example.com/robots.txt", …}]
 * ```
 */
export function sitemapRoots(spec: SitemapsSpec, base: string): RequestInit[] {
  if (spec.urls === undefined) {
    const origin = new URL(base);
    return [{
      url: new URL("/robots.txt", origin).href,
      ruleName: SITEMAP_ROBOTS_RULE,
      priority: SITEMAP_PRIORITY,
      tmp: { host: origin.host },
    }];
  }
  return spec.urls.map((raw) => {
    const url = new URL(raw, base || undefined);
    return sitemapRequestInit(url.href, { level: 0, host: url.host });
  });
}

/** The internal rules reading the sitemaps of `spec`. */
export function sitemapRules(spec: SitemapsSpec): Record<string, Rule> {
  return {
    [SITEMAP_ROBOTS_RULE]: {
      // robots.txt is data: even a task whose pages are rendered fetches it over HTTP.
      fetch: { http: true },
      parse: (ctx) => parseRobots(ctx),
      // No robots.txt (404), or none to be had: as if it named no sitemap.
      recover: (req) => fallback(req, req.url),
    },
    [SITEMAP_RULE]: new SitemapRule(spec),
  };
}

/** The `Sitemap:` lines of robots.txt, else `<origin>/sitemap.xml`. */
function parseRobots(ctx: ParseContext): ParseResult {
  const tmp = (ctx.req.tmp ?? {}) as SitemapTmp;
  const host = tmp.host ?? new URL(ctx.req.url).host;
  const urls = new Set<string>();
  for (const match of ctx.body.matchAll(/^[ \t]*sitemap[ \t]*:[ \t]*(\S+)/gim)) {
    const url = ctx.resolve(match[1]);
    if (url !== undefined) urls.add(url);
  }
  if (urls.size === 0) return fallback(ctx.req, ctx.url);
  return {
    requests: [...urls].map((url) => toRequest(sitemapRequestInit(url, { level: 0, host }))),
  };
}

/** `<origin>/sitemap.xml` of `url`, for the robots.txt request `req` that named no sitemap. */
function fallback(req: CrawlRequest, url: string): ParseResult {
  const host = (req.tmp as SitemapTmp | undefined)?.host ?? new URL(req.url).host;
  const sitemap = new URL("/sitemap.xml", url).href;
  return { requests: [toRequest(sitemapRequestInit(sitemap, { level: 0, host }))] };
}

/** How sitemap files are fetched: over HTTP, read as they arrive, up to the protocol's limit. */
const SITEMAP_FETCH: RuleFetch = { http: true, stream: true, maxBodyBytes: MAX_SITEMAP_BYTES };

/** Reads one sitemap file, index or feed. */
class SitemapRule implements Rule {
  readonly fetch: RuleFetch = SITEMAP_FETCH;
  readonly #rule: string;
  readonly #match: RegExp | undefined;
  readonly #since: number | undefined;
  readonly #sameHost: boolean;

  constructor(spec: SitemapsSpec) {
    this.#rule = spec.rule;
    this.#match = spec.match === undefined ? undefined : new RegExp(spec.match);
    this.#since = spec.lastmodSince === undefined ? undefined : Date.parse(spec.lastmodSince);
    this.#sameHost = spec.sameHost ?? true;
  }

  async parse(ctx: ParseContext): Promise<ParseResult> {
    const tmp = (ctx.req.tmp ?? {}) as SitemapTmp;
    const level = tmp.level ?? 0;
    const host = tmp.host ?? new URL(ctx.req.url).host;
    // The bytes as they arrive (still gzipped, maybe), a chunk at a time.
    const contents = await parseSitemap(ctx.chunks(), {
      filter: (entry, kind) => {
        const url = resolve(entry.url, ctx.url);
        if (url === undefined) return false;
        if (this.#sameHost && url.host !== host) return false;
        // The entry keeps the absolute URL: one string per entry, nothing kept beside it.
        entry.url = url.href;
        if (kind === "sitemap") return true;
        if (this.#match && !this.#match.test(entry.url)) return false;
        return this.#since === undefined || entry.lastmod === undefined ||
          entry.lastmod >= this.#since;
      },
    });
    if (contents.sitemaps.length > 0 && level >= MAX_SITEMAP_LEVEL) {
      throw new Error(
        `sitemap index nested deeper than ${MAX_SITEMAP_LEVEL} levels: ${ctx.req.url} (level ${level}) not read`,
      );
    }
    const requests: CrawlRequest[] = contents.sitemaps.map((entry) =>
      toRequest(sitemapRequestInit(entry.url, { level: level + 1, host }))
    );
    for (const entry of contents.pages) {
      requests.push({
        url: entry.url,
        method: "GET",
        // Sitemaps are not link hops: the pages they list are roots of their own.
        depth: 0,
        priority: 0,
        ruleName: this.#rule,
        tmp: entry.lastmod === undefined ? undefined : { lastmod: entry.lastmod },
        attempt: 0,
      });
    }
    return { requests, sitemap: { files: 1, urls: contents.pages.length } };
  }
}

/** `href` resolved against `base`, without its fragment; undefined unless an http(s) URL. */
function resolve(href: string, base: string): URL | undefined {
  let url: URL;
  try {
    url = new URL(href.trim(), base);
  } catch {
    return undefined;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
  url.hash = "";
  return url;
}

function sitemapRequestInit(url: string, tmp: SitemapTmp): RequestInit {
  return { url, ruleName: SITEMAP_RULE, priority: SITEMAP_PRIORITY, tmp: { ...tmp } };
}
