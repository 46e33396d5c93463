/**
 * @module
 * The `sitemaps` field of a declarative spec: sitemap files and feeds as a crawl's sources.
 */
import { z } from "zod";
import { patternError } from "./_pattern.ts";

const MAX_URL_LENGTH = 2000;

/**
 * Where a task's pages come from besides links: sitemap files (`urls`, default the `Sitemap:`
 * lines of the task host's robots.txt, else `<origin>/sitemap.xml`). The page URLs they list are
 * parsed by `rule` at depth 0, kept when they match `match`, have a `<lastmod>` on or after
 * `lastmodSince` (entries without one are kept) and (unless `sameHost` is false) are on the
 * host the sitemaps were found for.
 */
export const sitemapsSpecSchema = z.strictObject({
  /** Sitemap, sitemap index or feed URLs; relative ones resolve against the task's URL. */
  urls: z.array(
    z.string().min(1).max(MAX_URL_LENGTH).superRefine((raw, ctx) => {
      let url: URL;
      try {
        url = new URL(raw, "http://relative.invalid/");
      } catch {
        ctx.addIssue({ code: "custom", message: `invalid URL "${raw}"` });
        return;
      }
      if (url.protocol !== "http:" && url.protocol !== "https:") {
        ctx.addIssue({ code: "custom", message: "expected an http(s) URL" });
      }
    }),
  ).min(1).max(100).optional(),
  /** The rule that parses the pages the sitemaps list. */
  rule: z.string().min(1).max(100),
  /** Only page URLs matching this regular expression. */
  match: z.string().min(1).max(MAX_URL_LENGTH).superRefine((source, ctx) => {
    const error = patternError(source);
    if (error) ctx.addIssue({ code: "custom", message: error });
  }).optional(),
  /** Only entries whose `<lastmod>` is this ISO date or later (entries without one are kept). */
  lastmodSince: z.string().max(100).refine((text) => !Number.isNaN(Date.parse(text)), {
    message: "expected an ISO date such as 2024-01-31 or 2024-01-31T12:00:00Z",
  }).optional(),
  /** Only page URLs on the host the sitemaps were found for. Default true. */
  sameHost: z.boolean().optional(),
});

/** The `sitemaps` field as written (see {@linkcode sitemapsSpecSchema}). */
export type SitemapsSpec = z.infer<typeof sitemapsSpecSchema>;
