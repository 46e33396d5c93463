/**
 * @module
 * Sitemaps and feeds as crawl sources: the streaming, bounded parser and the internal rules a
 * declarative spec's `sitemaps` field adds.
 */
export {
  isGzip,
  MAX_SITEMAP_BYTES,
  parseSitemap,
  type ParseSitemapOptions,
  type SitemapContents,
  type SitemapEntry,
  type SitemapFormat,
} from "./sitemap_parser.ts";
export {
  MAX_SITEMAP_LEVEL,
  SITEMAP_ROBOTS_RULE,
  SITEMAP_RULE,
  sitemapRoots,
  sitemapRules,
} from "./sitemap_rules.ts";
export type { SitemapsSpec } from "../declarative/sitemap_spec.ts";
