/**
 * @module
 * The crawler's own User-Agent, and the product token robots.txt groups are matched against.
 */

import { VERSION } from "../../version.ts";

/**
 * The default `fetcher.userAgent`: a product token, its version, and where a site owner can
 * read what this crawler is (the usual `name/version (+URL)` form).
 */
export const DEFAULT_USER_AGENT = `crawler/${VERSION} (+https://github.com/dreamerjackson/crawler)`;

/**
 * The product token of a User-Agent, the part robots.txt `User-agent:` lines name
 * (RFC 9309 §2.2.1: letters, `_` and `-`), lower-cased since matching ignores case.
 * `""` when the string does not start with one.
 *
 * @example
 * ```ts
 * productToken("crawler/0.1.0 (+https://example.com)"); // "crawler"
 * ```
 */
export function productToken(userAgent: string): string {
  return /^\s*([A-Za-z_-]+)/.exec(userAgent)?.[1].toLowerCase() ?? "";
}
