/**
 * @module
 * Resolving a page's links to absolute URLs fast: `new URL` costs ~1.5 µs a link, as much as
 * finding the links, so the common case (a root-relative or same-origin path that needs no
 * normalising) is joined as a string, and everything else goes through `new URL`.
 */

/** A path (and query) the URL parser would leave exactly as it is. */
const PLAIN_PATH =
  /^\/(?![/\\])[A-Za-z0-9\-._~!$&()*+,;=:@/]*(?:\?[A-Za-z0-9\-._~!$&()*+,;=:@/?]*)?$/;
/** `.` and `..` segments, which the parser removes. */
const DOT_SEGMENT = /\/\.\.?(?:[/?]|$)/;

/**
 * Resolves hrefs found on one page the way `ParseContext.resolve` does: against the page URL,
 * http(s) only, fragment dropped.
 *
 * @example
 * ```ts
 * const resolver = new UrlResolver("http://127.0.0.1:8080/a/b.html");
 * resolver.resolve("/c?d=1#top"); // "http://127.0.0.1:8080/c?d=1"
 * resolver.resolve("mailto:x@y"); // undefined
 * ```
 */
export class UrlResolver {
  readonly #base: URL | undefined;
  /** `scheme://host[:port]` of the page, as the URL parser serialises it. */
  readonly #origin: string;

  constructor(readonly baseUrl: string) {
    try {
      this.#base = new URL(baseUrl);
    } catch {
      this.#base = undefined;
    }
    const base = this.#base;
    this.#origin = base && (base.protocol === "http:" || base.protocol === "https:") &&
        base.username === "" && base.password === ""
      ? base.origin
      : "";
  }

  /** The page's host (`host[:port]`). */
  get host(): string {
    return this.#base?.host ?? "";
  }

  /** True if `url` (as `resolve` returned it) is on the page's host. */
  sameHost(url: string): boolean {
    const origin = this.#origin;
    if (origin !== "" && url.startsWith(origin) && url.charCodeAt(origin.length) === 0x2f) {
      return true;
    }
    return hostOf(url) === this.host;
  }

  /** `scheme://host[:port]` of the page; "" when the page URL is not plain http(s). */
  get origin(): string {
    return this.#origin;
  }

  /**
   * If `href` is a path on the page's own origin that needs no normalising (`/a/b?c`, or the
   * same written in full), that path without its fragment: `origin + path` is its URL, on the
   * page's host. Else undefined, and `resolve` has the answer.
   */
  localPath(href: string): string | undefined {
    const origin = this.#origin;
    if (origin === "") return undefined;
    const hash = href.indexOf("#");
    const target = hash >= 0 ? href.slice(0, hash) : href;
    if (target.charCodeAt(0) === 0x2f /* / */) return isPlainPath(target) ? target : undefined;
    if (target.startsWith(origin) && target.charCodeAt(origin.length) === 0x2f) {
      const path = target.slice(origin.length);
      return isPlainPath(path) ? path : undefined;
    }
    return undefined;
  }

  /** `origin + localPath(href)`, when there is a local path. */
  resolveLocal(href: string): string | undefined {
    const path = this.localPath(href);
    return path === undefined ? undefined : this.#origin + path;
  }

  /** The absolute http(s) URL of `href` without its fragment, or undefined. */
  resolve(href: string): string | undefined {
    const local = this.resolveLocal(href);
    if (local !== undefined) return local;
    if (this.#base === undefined) return undefined;
    try {
      const url = new URL(href, this.#base);
      if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
      url.hash = "";
      return url.href;
    } catch {
      return undefined;
    }
  }
}

function isPlainPath(path: string): boolean {
  return PLAIN_PATH.test(path) && (!path.includes("/.") || !DOT_SEGMENT.test(path));
}

/** The `host[:port]` of an absolute URL as the URL parser serialises it. */
export function hostOf(url: string): string {
  const start = url.indexOf("//") + 2;
  let end = url.indexOf("/", start);
  if (end < 0) end = url.length;
  const authority = url.slice(start, end);
  return authority.slice(authority.lastIndexOf("@") + 1);
}
