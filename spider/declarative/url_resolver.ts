/**
 * @module
 * Resolving a page's links to absolute URLs fast: `new URL` costs ~1.5 µs a link, as much as
 * finding the links, so the common cases (a root-relative, same-origin, directory-relative
 * (`x.html`, `../a/x.html`), query-only or fragment-only link that needs no normalising) are
 * joined as strings, and everything else goes through `new URL`.
 */

/** A path (and query) the URL parser would leave exactly as it is. */
const PLAIN_PATH =
  /^\/(?![/\\])[A-Za-z0-9\-._~!$&()*+,;=:@/]*(?:\?[A-Za-z0-9\-._~!$&()*+,;=:@/?]*)?$/;
/**
 * An absolute http(s) link whose host the parser would leave as written: lowercase DNS labels,
 * the last one starting with a letter (so not an IPv4 address in any notation), no punycode, no
 * user info; group 3 is the port.
 */
const PLAIN_AUTHORITY =
  /^(https?):\/\/((?!xn--)[a-z0-9-]+(?:\.(?!xn--)[a-z0-9-]+)*\.[a-z][a-z0-9-]*)(?::(\d{1,5}))?(?=[/?#]|$)/;

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
  /** The page's path and query (its URL without origin and fragment), when plain. */
  readonly #self: string | undefined;
  /** The page's directory (its path up to the last `/`), when plain. */
  readonly #dir: string | undefined;

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
    if (this.#origin !== "" && isPlainPath(base!.pathname + base!.search)) {
      this.#self = base!.pathname + base!.search;
      this.#dir = base!.pathname.slice(0, base!.pathname.lastIndexOf("/") + 1);
    }
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
    const first = target.charCodeAt(0);
    if (first === 0x2f /* / */) return isPlainPath(target) ? target : undefined;
    if (target.startsWith(origin) && target.charCodeAt(origin.length) === 0x2f) {
      const path = target.slice(origin.length);
      return isPlainPath(path) ? path : undefined;
    }
    return this.#relativePath(target);
  }

  /** `localPath` of a link relative to the page: `` (itself), `?query`, `x`, `./x`, `../x`. */
  #relativePath(target: string): string | undefined {
    const dir = this.#dir;
    if (dir === undefined) return undefined;
    if (target === "") return this.#self;
    if (target.charCodeAt(0) === 0x3f /* ? */) {
      const path = this.#self!.split("?", 1)[0] + target;
      return isPlainPath(path) ? path : undefined;
    }
    // A colon before the first `/` or `?` may be a scheme (`mailto:`): the parser decides.
    const colon = target.indexOf(":");
    if (colon >= 0) {
      const slash = target.indexOf("/");
      const query = target.indexOf("?");
      if ((slash < 0 || colon < slash) && (query < 0 || colon < query)) return undefined;
    }
    let base = dir;
    let rest = target;
    for (;;) {
      if (rest.startsWith("../")) {
        base = base.slice(0, base.lastIndexOf("/", base.length - 2) + 1) || "/";
        rest = rest.slice(3);
      } else if (rest.startsWith("./")) {
        rest = rest.slice(2);
      } else break;
    }
    const path = base + rest;
    return isPlainPath(path) ? path : undefined;
  }

  /**
   * True when `href` is certainly a link to another host than the page's (`https://other.test/…`),
   * told without the URL parser: a crawl that keeps only same-host links drops it at once.
   * False when it is on this host, or when only the parser can tell.
   */
  elsewhere(href: string): boolean {
    const match = PLAIN_AUTHORITY.exec(href);
    if (!match) return false;
    const [, scheme, name, port] = match;
    const defaultPort = scheme === "http" ? 80 : 443;
    const host = port === undefined || Number(port) === defaultPort
      ? name
      : `${name}:${Number(port)}`;
    return Number(port ?? 0) <= 65535 && host !== this.host;
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
