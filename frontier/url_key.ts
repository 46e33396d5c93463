/**
 * @module
 * The key a request is deduplicated by in the frontier: its URL normalised so that spellings a
 * server treats as one page are one key (RFC 3986 §6 normalisation plus a sorted query).
 */
import { hostKey } from "./host_key.ts";

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/**
 * Normalises `url` and prefixes a method other than GET:
 * scheme and host lower-cased, default port and fragment dropped, dot segments resolved, an
 * empty path made `/`, percent-escapes of unreserved characters decoded and the others
 * upper-cased, query parameters sorted by name (values of one name keep their order), an empty
 * query dropped. A URL that does not parse is its own key.
 *
 * @example
 * ```ts
 * urlKey("HTTP://Example.com:80/a/../b?z=1&a=2#top"); // "http://example.com/b?a=2&z=1"
 * urlKey("http://example.com/form", "POST");          // "POST http://example.com/form"
 * ```
 */
export function urlKey(url: string, method = "GET"): string {
  const key = normaliseUrl(url);
  return method === "GET" ? key : `${method} ${key}`;
}

function normaliseUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return raw;
  }
  url.hash = "";
  const path = normaliseEscapes(url.pathname);
  const search = sortQuery(url.search);
  const auth = url.username || url.password
    ? `${url.username}${url.password ? `:${url.password}` : ""}@`
    : "";
  return `${url.protocol}//${auth}${url.host}${path}${search}`;
}

function normaliseEscapes(text: string): string {
  return text.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => {
    const char = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(char) ? char : `%${hex.toUpperCase()}`;
  });
}

function sortQuery(search: string): string {
  if (search.length <= 1) return "";
  const pairs = search.slice(1).split("&").filter((p) => p !== "").map(normaliseEscapes);
  if (pairs.length === 0) return "";
  const name = (pair: string) => {
    const eq = pair.indexOf("=");
    return eq < 0 ? pair : pair.slice(0, eq);
  };
  // Array.prototype.sort is stable: values of one name keep their order.
  pairs.sort((a, b) => {
    const x = name(a);
    const y = name(b);
    return x < y ? -1 : x > y ? 1 : 0;
  });
  return `?${pairs.join("&")}`;
}

/**
 * The host a request goes to, as politeness keys it (`hostKey`: `scheme://host:port`), so a
 * claim can skip hosts that are not due; "" if the URL does not parse.
 */
export function urlHost(url: string): string {
  try {
    return hostKey(url);
  } catch {
    return "";
  }
}
