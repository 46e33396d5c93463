/**
 * @module
 * The key politeness is kept under: a URL's scheme, host and port (RFC 9309 §2.3: a robots.txt
 * applies to one scheme, host and port).
 */

const DEFAULT_PORTS: Readonly<Record<string, string>> = { "http:": "80", "https:": "443" };

/**
 * The host key of a URL: `scheme://host:port`, the port always written out, so
 * `http://a.test/x` and `http://a.test:80/y` share one key and `https://a.test/` has another.
 * Throws `TypeError` for a string that is not a URL.
 *
 * @example
 * ```ts
 * hostKey("http://Example.com/a?b"); // "http://example.com:80"
 * ```
 */
export function hostKey(url: string | URL): string {
  const u = typeof url === "string" ? new URL(url) : url;
  const port = u.port || DEFAULT_PORTS[u.protocol] || "";
  return `${u.protocol}//${u.hostname}${port ? `:${port}` : ""}`;
}
