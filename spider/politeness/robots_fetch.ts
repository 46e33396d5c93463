/**
 * @module
 * Fetching one host's robots.txt the way RFC 9309 §2.3 asks: redirects followed (up to five),
 * the body cut at 500 KiB, and the status deciding the outcome.
 */
import type { RobotsOutcome } from "./robots_rules.ts";
import { ResourceExhaustedError } from "../fetcher.ts";

/** What a robots.txt fetch found: the outcome and, when parsed, the text. */
export interface RobotsFetchResult {
  outcome: RobotsOutcome;
  /** The robots.txt text ("" unless the outcome is "parsed"). */
  text: string;
  /** The last HTTP status, when the server answered. */
  status?: number;
  /** Why the host is blocked ("disallow-all"), for the logs. */
  reason?: string;
}

/** Options for {@linkcode fetchRobots}. */
export interface FetchRobotsOptions {
  /** Sent as the User-Agent. */
  userAgent: string;
  /** Time limit for the whole fetch, redirects included, in ms. Default 10000. */
  timeoutMs?: number;
  /** Bytes of the body kept; RFC 9309 asks for at least 500 KiB. Default 512000. */
  maxBytes?: number;
  /** Redirects followed. Default 5. */
  maxRedirects?: number;
  signal?: AbortSignal;
  /** The fetch to use. Default: the global `fetch`. */
  fetch?: typeof fetch;
}

/**
 * Fetches `origin`'s robots.txt (`origin` as `hostKey` gives it). 2xx → "parsed"; 4xx → "allow-all"
 * (RFC 9309 §2.3.1.3), except 429, which like 5xx and network errors is "disallow-all"
 * (§2.3.1.4: the server asks us to slow down, so we do not take it as permission); more than
 * `maxRedirects` redirects → "allow-all", as if not found. Rejects only when `signal` aborts.
 */
export async function fetchRobots(
  origin: string,
  options: FetchRobotsOptions,
): Promise<RobotsFetchResult> {
  const { signal } = options;
  const fetchFn = options.fetch ?? fetch;
  const maxRedirects = options.maxRedirects ?? 5;
  const timeout = AbortSignal.timeout(options.timeoutMs ?? 10_000);
  const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
  let url = `${origin}/robots.txt`;
  try {
    for (let hop = 0;; hop++) {
      const response = await fetchFn(url, {
        headers: { "User-Agent": options.userAgent },
        redirect: "manual",
        signal: combined,
      });
      const status = response.status;
      const location = response.headers.get("location");
      if (status >= 300 && status < 400 && location) {
        await response.body?.cancel();
        if (hop >= maxRedirects) {
          return { outcome: "allow-all", text: "", status, reason: "too many redirects" };
        }
        url = new URL(location, url).href;
        continue;
      }
      if (status >= 200 && status < 300) {
        const text = await readCut(response, options.maxBytes ?? 500 * 1024);
        return { outcome: "parsed", text, status };
      }
      await response.body?.cancel();
      if (status >= 400 && status < 500 && status !== 429) {
        return { outcome: "allow-all", text: "", status };
      }
      return { outcome: "disallow-all", text: "", status, reason: `HTTP ${status}` };
    }
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    // Our process ran out of descriptors: nothing is known of the host, which is not to blame.
    if (error instanceof ResourceExhaustedError) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    return { outcome: "disallow-all", text: "", reason };
  }
}

/**
 * The body's first `maxBytes`, cut back to the last whole line: a rule cut in the middle
 * (`Allow: /private-area` becoming `Allow: /`) could allow more than the site meant.
 */
async function readCut(response: Response, maxBytes: number): Promise<string> {
  if (!response.body) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  let cut = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (total + value.byteLength > maxBytes) {
      chunks.push(value.subarray(0, maxBytes - total));
      total = maxBytes;
      cut = true;
      await reader.cancel();
      break;
    }
    chunks.push(value);
    total += value.byteLength;
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  const text = new TextDecoder().decode(bytes);
  if (!cut) return text;
  const lastLine = Math.max(text.lastIndexOf("\n"), text.lastIndexOf("\r"));
  return lastLine < 0 ? "" : text.slice(0, lastLine + 1);
}
