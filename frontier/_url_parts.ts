/**
 * @module
 * How the durable frontiers store a URL compactly: its host once per crawl (with the origin as
 * the URL spelled it), and in each request row only what follows that origin.
 */
import { urlHost } from "./url_key.ts";

/** A URL's host key (politeness's `scheme://host:port`, "" if it does not parse) and origin. */
export interface UrlParts {
  host: string;
  /** The URL's text up to its path, as spelled (`http://A.test:80`); "" if none. */
  origin: string;
}

const ORIGIN = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/;

export function urlParts(url: string): UrlParts {
  const host = urlHost(url);
  return { host, origin: host ? ORIGIN.exec(url)?.[0] ?? "" : "" };
}

/** The origin a host row stores: "" when it is spelled as the host key (most hosts). */
export function storedOrigin(parts: UrlParts): string {
  return parts.origin === parts.host ? "" : parts.origin;
}

/**
 * The text a row stores for `url` of a host whose origin is `origin`: the path onwards when the
 * URL starts with that origin and a "/", else the whole URL (which never starts with "/").
 */
export function compactUrl(url: string, origin: string): string {
  return origin !== "" && url.startsWith(origin) && url.charCodeAt(origin.length) === 47
    ? url.slice(origin.length)
    : url;
}

/** The URL a row's text stands for (the inverse of `compactUrl`). */
export function expandUrl(stored: string, origin: string): string {
  return stored.charCodeAt(0) === 47 ? origin + stored : stored;
}
