/**
 * @module
 * Fetching a page for the crawl: the `Fetcher` interface the engine calls, and `HttpFetcher`,
 * its HTTP implementation (the Go project's BrowserFetch): timeout, cookie, the crawler's
 * User-Agent (or a request's own), round-robin proxies, a body size cap, and the body decoded
 * from its charset.
 */
import { decodeBody } from "./charset.ts";
import { DEFAULT_USER_AGENT } from "./politeness/user_agent_token.ts";

/** One page to fetch. */
export interface FetchRequest {
  url: string;
  method: string;
  /** Sent as the `Cookie` header (the task's `Cookie`). */
  cookie?: string;
  /** The User-Agent for this request, instead of the fetcher's own. */
  userAgent?: string;
  /** Aborting it aborts the fetch at once, body download included. */
  signal?: AbortSignal;
}

/** A fetched page. */
export interface FetchResponse {
  /** The final URL, after redirects: the base for resolving the page's relative links. */
  url: string;
  status: number;
  /** The body decoded to a string (the HTTP fetcher decodes it on first read). */
  readonly body: string;
  /** The body as received, when the fetcher keeps it: a parse worker can decode it itself. */
  raw?: Uint8Array;
  contentType: string | null;
  /** Size of the body as received, before decoding. */
  bytes: number;
}

/** Fetches pages for the crawl engine; `HttpFetcher` is the real one, tests pass their own. */
export interface Fetcher {
  /**
   * Resolves with a 2xx response. Rejects with a `FetchError` when the fetch failed, or with
   * the request signal's reason when the caller aborted it.
   */
  fetch(req: FetchRequest): Promise<FetchResponse>;
  /** Releases what the fetcher holds (proxy connections). */
  close?(): void;
}

/** Options for {@linkcode FetchError}. */
export interface FetchErrorOptions {
  /** Whether the same request may succeed if tried again. */
  retriable: boolean;
  /** HTTP status, when the server answered. */
  status?: number;
  /** The `Retry-After` header of a 429 or 503, for the host's backoff. */
  retryAfter?: string;
  cause?: unknown;
}

/**
 * A failed fetch. `retriable` tells the engine whether to try again: true for network errors,
 * timeouts, 5xx, 408 and 429; false for other statuses, bad URLs and oversized bodies.
 */
export class FetchError extends Error {
  readonly retriable: boolean;
  readonly status?: number;
  readonly retryAfter?: string;

  constructor(message: string, options: FetchErrorOptions) {
    super(message, { cause: options.cause });
    this.name = "FetchError";
    this.retriable = options.retriable;
    this.status = options.status;
    this.retryAfter = options.retryAfter;
  }
}

/** Options for {@linkcode HttpFetcher}. */
export interface HttpFetcherOptions {
  /** Time limit for a whole fetch, body included, in ms; 0 or Infinity for none. Default 3000. */
  timeoutMs?: number;
  /** Proxy URLs (`http://[user:pass@]host:port`), used in turn, one per request. Default none. */
  proxies?: readonly string[];
  /**
   * Largest body accepted, in bytes; a larger one fails the fetch with a non-retriable
   * `FetchError` rather than being cut, since a truncated page would parse into silently
   * partial results. Default 10 MiB.
   */
  maxBodyBytes?: number;
  /**
   * User-Agent for each request a `FetchRequest` does not set. Default: the crawler's own
   * (`DEFAULT_USER_AGENT`); the worker passes `fetcher.userAgent`. Pass `randomUserAgent` for
   * the Go project's random browser strings.
   */
  userAgent?: () => string;
  /** The fetch to use. Default: the global `fetch`. */
  fetch?: typeof fetch;
}

/** Statuses worth another try: the server may answer differently later. */
const RETRIABLE_STATUSES = new Set([408, 429]);

/**
 * Fetches pages over HTTP(S), as the Go project's BrowserFetch did.
 *
 * Proxies get one `Deno.HttpClient` each, created here and released by `close()`; requests go
 * through them in turn. Without proxies the runtime's shared client (and its connection pool)
 * is used.
 *
 * @example
 * ```ts
 * const fetcher = new HttpFetcher({ timeoutMs: 5000, proxies: ["http://127.0.0.1:8888"] });
 * try {
 *   const page = await fetcher.fetch({ url, method: "GET", cookie, signal });
 * } finally {
 *   fetcher.close();
 * }
 * ```
 */
export class HttpFetcher implements Fetcher {
  readonly #timeoutMs: number;
  readonly #maxBodyBytes: number;
  readonly #userAgent: () => string;
  readonly #fetch: typeof fetch;
  readonly #clients: Deno.HttpClient[];
  #nextClient = 0;
  #closed = false;

  constructor(options: HttpFetcherOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? 3000;
    this.#maxBodyBytes = options.maxBodyBytes ?? 10 * 1024 * 1024;
    this.#userAgent = options.userAgent ?? (() => DEFAULT_USER_AGENT);
    this.#fetch = options.fetch ?? fetch;
    this.#clients = (options.proxies ?? []).map(createProxyClient);
  }

  async fetch(req: FetchRequest): Promise<FetchResponse> {
    if (this.#closed) throw new Error("HttpFetcher used after close()");
    req.signal?.throwIfAborted();
    const target = parseTarget(req.url);
    const headers = requestHeaders(req.userAgent ?? this.#userAgent(), req.cookie);
    const client = this.#clients.length > 0
      ? this.#clients[this.#nextClient++ % this.#clients.length]
      : undefined;

    // One signal for the fetch, aborted by the caller or by the timeout. Linked by hand, not with
    // AbortSignal.any: in Deno that keeps ~350 bytes per call alive on the caller's signal,
    // which lives as long as the task, i.e. a leak over millions of requests.
    const controller = new AbortController();
    const signal = controller.signal;
    let timedOut = false;
    const onAbort = () => controller.abort(req.signal?.reason);
    req.signal?.addEventListener("abort", onAbort, { once: true });
    const timer = this.#timeoutMs > 0 && Number.isFinite(this.#timeoutMs)
      ? setTimeout(() => {
        timedOut = true;
        controller.abort(new DOMException(`timed out after ${this.#timeoutMs} ms`, "TimeoutError"));
      }, this.#timeoutMs)
      : undefined;

    try {
      const response = await this.#fetch(target, {
        method: req.method,
        headers,
        signal,
        redirect: "follow",
        ...(client ? { client } : {}),
      });
      if (!response.ok) {
        await discard(response);
        throw new FetchError(`HTTP ${response.status} from ${req.url}`, {
          retriable: response.status >= 500 || RETRIABLE_STATUSES.has(response.status),
          status: response.status,
          retryAfter: response.headers.get("retry-after") ?? undefined,
        });
      }
      const raw = await readBody(response, this.#maxBodyBytes, req.url);
      const contentType = response.headers.get("content-type");
      // Decoded on first use: a page parsed in a worker is decoded there, not on this thread.
      let body: string | undefined;
      return {
        url: response.url || req.url,
        status: response.status,
        get body() {
          return body ??= decodeBody(raw, contentType);
        },
        raw,
        contentType,
        bytes: raw.byteLength,
      };
    } catch (error) {
      // The caller's abort wins over everything: it is not a failure of the fetch.
      if (req.signal?.aborted) throw req.signal.reason;
      if (error instanceof FetchError) throw error;
      if (timedOut) {
        throw new FetchError(`fetching ${req.url} timed out after ${this.#timeoutMs} ms`, {
          retriable: true,
          cause: signal.reason,
        });
      }
      throw new FetchError(`fetching ${req.url} failed: ${messageOf(error)}`, {
        retriable: true,
        cause: error,
      });
    } finally {
      clearTimeout(timer);
      req.signal?.removeEventListener("abort", onAbort);
    }
  }

  /** Closes the proxy clients. Fetches after this throw. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const client of this.#clients) client.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

function createProxyClient(proxy: string): Deno.HttpClient {
  let url: URL;
  try {
    url = new URL(proxy);
  } catch (error) {
    throw new TypeError(`invalid proxy URL ${JSON.stringify(proxy)}`, { cause: error });
  }
  // Deno takes credentials from the proxy URL itself (user:pass@ becomes Proxy-Authorization).
  return Deno.createHttpClient({ proxy: { url: url.href } });
}

/** The URL to fetch; a URL no retry can fix fails here, not as a network error. */
function parseTarget(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch (error) {
    throw new FetchError(`invalid URL ${JSON.stringify(raw)}`, { retriable: false, cause: error });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new FetchError(`unsupported URL scheme in ${raw}`, { retriable: false });
  }
  return url;
}

/** The request headers; a value HTTP cannot carry (a newline in the cookie) fails for good. */
function requestHeaders(userAgent: string, cookie: string | undefined): Headers {
  try {
    const headers = new Headers({ "User-Agent": userAgent });
    if (cookie) headers.set("Cookie", cookie);
    return headers;
  } catch (error) {
    throw new FetchError(`invalid header value: ${messageOf(error)}`, {
      retriable: false,
      cause: error,
    });
  }
}

/** Reads the whole body, failing as soon as it grows past `maxBytes`. */
async function readBody(response: Response, maxBytes: number, url: string): Promise<Uint8Array> {
  const tooLarge = () =>
    new FetchError(`body of ${url} is larger than ${maxBytes} bytes`, {
      retriable: false,
      status: response.status,
    });
  const declared = Number(response.headers.get("content-length") ?? NaN);
  if (declared > maxBytes) {
    await discard(response);
    throw tooLarge();
  }
  if (!response.body) return new Uint8Array(0);
  // With the size declared and within the limit, one read into one buffer is the cheap path
  // (the chunk-by-chunk read below costs ~20 µs more per page); the server cannot send more
  // than it declared.
  if (Number.isFinite(declared)) return new Uint8Array(await response.arrayBuffer());
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0];
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/** Drops a body we will not read, so its connection is released rather than left open. */
async function discard(response: Response): Promise<void> {
  try {
    await response.body?.cancel();
  } catch {
    // Nothing to release if the stream already failed; the status is the error we report.
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
