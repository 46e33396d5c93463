/**
 * @module
 * Fetching a page for the crawl: the `Fetcher` interface the engine calls, and `HttpFetcher`,
 * its HTTP implementation (the Go project's BrowserFetch): timeout, cookie, the crawler's
 * User-Agent (or a request's own), round-robin proxies, a body size cap, the body decoded
 * from its charset, and a bounded number of connections.
 */
import { decodeBody } from "./charset.ts";
import {
  ConnectionPool,
  type ConnectionPoolStats,
  defaultMaxConnections,
} from "./connection_pool.ts";
import { DEFAULT_USER_AGENT } from "./politeness/user_agent_token.ts";
import type { RenderOptions } from "./browser/render_options.ts";
import type { RenderWatch } from "./browser/render_stats.ts";

/** One page to fetch. */
export interface FetchRequest {
  /** The absolute http(s) URL. */
  url: string;
  /** The HTTP method, `GET` for pages. */
  method: string;
  /** Sent as the `Cookie` header (the task's `Cookie`). */
  cookie?: string;
  /** The User-Agent for this request, instead of the fetcher's own. */
  userAgent?: string;
  /** Aborting it aborts the fetch at once, body download included, or the wait for a socket. */
  signal?: AbortSignal;
  /**
   * False when the host will not be fetched again soon (its next turn is far off): the
   * connection is closed after this response instead of kept idle. Default true.
   */
  keepAlive?: boolean;
  /**
   * Set when the page must be rendered in a browser (the task's `Fetcher = "browser"`, or its
   * rule's `render`): a fetcher that renders reads it, `HttpFetcher` ignores it.
   */
  render?: RenderOptions;
  /** Told how the render of this request went (a fetcher that renders tells it). */
  renderWatch?: RenderWatch;
  /** Largest body accepted for this request, bytes. Default: the fetcher's `maxBodyBytes`. */
  maxBodyBytes?: number;
  /**
   * True to have the body as it arrives (`FetchResponse.stream`) rather than whole: a 50 MB
   * sitemap is parsed a chunk at a time and never held. The connection is held until the stream
   * is read to its end or cancelled; the time limit then runs only while the reader waits for a
   * chunk. A fetcher may ignore it and answer with the whole body. Default false.
   */
  stream?: boolean;
  /**
   * What the page last answered (docs/frontier.md, "Recrawl"): sent as `If-None-Match` and
   * `If-Modified-Since`, so an unchanged page answers 304 with no body. A fetcher that renders
   * ignores them.
   */
  validators?: Validators;
}

/** A page's validators, from its last response. */
export interface Validators {
  etag?: string;
  lastModified?: string;
}

/** A fetched page. */
export interface FetchResponse {
  /** The final URL, after redirects: the base for resolving the page's relative links. */
  url: string;
  /** The HTTP status: 2xx, or 304 for a request with `validators` whose page has not changed. */
  status: number;
  /**
   * The body decoded to a string (the HTTP fetcher decodes it on first read). Reading it throws
   * for a response with a `stream`: its body is read from that.
   */
  readonly body: string;
  /** The body as received, when the fetcher keeps it: a parse worker can decode it itself. */
  raw?: Uint8Array;
  /**
   * The body as it arrives, for a request that asked for it (`FetchRequest.stream`). Reading it
   * past the request's `maxBodyBytes`, or past the fetch's time limit, errors with a
   * `FetchError`; read it to its end or cancel it, so the connection is given back.
   */
  stream?: ReadableStream<Uint8Array>;
  /** The `Content-Type` header, if any. */
  contentType: string | null;
  /** Size of the body as received, before decoding (for a `stream`, its declared length or 0). */
  bytes: number;
  /** The `ETag` header, if any: the page's validator for its next visit. */
  etag?: string;
  /** The `Last-Modified` header, if any. */
  lastModified?: string;
}

/** Fetches pages for the crawl engine; `HttpFetcher` is the real one, tests pass their own. */
export interface Fetcher {
  /**
   * Resolves with a 2xx response, or a 304 with an empty body when the request carried
   * `validators` and the page has not changed. Rejects with a `FetchError` when the fetch failed,
   * or with the request signal's reason when the caller aborted it.
   */
  fetch(req: FetchRequest): Promise<FetchResponse>;
  /** Releases what the fetcher holds (its connections). */
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
  /** The error this one wraps. */
  cause?: unknown;
}

/**
 * A failed fetch. `retriable` tells the engine whether to try again: true for network errors,
 * timeouts, 5xx, 408 and 429; false for other statuses, bad URLs and oversized bodies.
 */
export class FetchError extends Error {
  /** Whether the same request may succeed if tried again. */
  readonly retriable: boolean;
  /** HTTP status, when the server answered. */
  readonly status?: number;
  /** The `Retry-After` header of a 429 or 503. */
  readonly retryAfter?: string;

  /** A failed fetch; `options.cause` is the error it wraps. */
  constructor(message: string, options: FetchErrorOptions) {
    super(message, { cause: options.cause });
    this.name = "FetchError";
    this.retriable = options.retriable;
    this.status = options.status;
    this.retryAfter = options.retryAfter;
  }
}

/** What a process can run out of while fetching. */
export type ExhaustedResource = "file descriptors" | "local ports" | "memory";

/** Options for {@linkcode ResourceExhaustedError}. */
export interface ResourceExhaustedErrorOptions {
  /** What ran out. */
  resource: ExhaustedResource;
  /** The error the runtime gave. */
  cause: unknown;
}

/**
 * A fetch that failed because this process (or the machine) ran out of something, not because
 * of the host: retriable, after backing off. The fetcher has already closed its idle
 * connections when it throws this.
 */
export class ResourceExhaustedError extends FetchError {
  /** What ran out. */
  readonly resource: ExhaustedResource;

  /** Always retriable; `options.cause` is the runtime's error. */
  constructor(message: string, options: ResourceExhaustedErrorOptions) {
    super(message, { retriable: true, cause: options.cause });
    this.name = "ResourceExhaustedError";
    this.resource = options.resource;
  }
}

/**
 * Patterns of the runtime's errors by the resource they report. Deno's fetch rejects with
 * `TypeError: fetch failed` whose cause reads e.g. `error sending request for url (…): client
 * error (Connect): tcp open error: Too many open files (os error 24)`; file APIs set `code`.
 */
const EXHAUSTION_PATTERNS: ReadonlyArray<[RegExp, ExhaustedResource]> = [
  [/too many open files|\bE[MN]FILE\b|\(os error 2[34]\)/i, "file descriptors"],
  [/cannot assign requested address|\bEADDRNOTAVAIL\b|\(os error 99\)/i, "local ports"],
  [
    /cannot allocate memory|no buffer space available|\bENO(MEM|BUFS)\b|\(os error (12|105)\)/i,
    "memory",
  ],
];

/**
 * The resource `error` (or an error in its `cause` chain) says the process ran out of, if any.
 *
 * @example
 * ```ts
 * exhaustedResourceOf(new TypeError("fetch failed", {
 *   cause: new Error("tcp open error: Too many open files (os error 24)"),
 * })); // "file descriptors"
 * ```
 */
export function exhaustedResourceOf(error: unknown): ExhaustedResource | undefined {
  for (let e = error, depth = 0; e !== undefined && e !== null && depth < 8; depth++) {
    const text = e instanceof Error
      ? `${e.message} ${(e as { code?: unknown }).code ?? ""}`
      : String(e);
    for (const [pattern, resource] of EXHAUSTION_PATTERNS) {
      if (pattern.test(text)) return resource;
    }
    e = e instanceof Error ? e.cause : undefined;
  }
  return undefined;
}

/** Options for {@linkcode HttpFetcher}. */
export interface HttpFetcherOptions {
  /**
   * Time limit for a whole fetch, body included, in ms (for a streamed body: up to its headers,
   * then for each chunk its reader waits for); 0 or Infinity for none. Default 3000.
   */
  timeoutMs?: number;
  /** Proxy URLs (`http://[user:pass@]host:port`), used in turn, one per request. Default none. */
  proxies?: readonly string[];
  /**
   * Most sockets open at once, in flight and idle (to proxies, when there are any); a fetch
   * that needs one more waits for one to be released. Default 32
   * (`defaultMaxConnections(8)`; the worker passes `fetcher.maxConnections`).
   */
  maxConnections?: number;
  /** A host's connections unused this long are closed, ms. Default 2000. */
  idleTimeoutMs?: number;
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
  /** The fetch to use (called with the pool's `client`). Default: the global `fetch`. */
  fetch?: typeof fetch;
}

/** Statuses worth another try: the server may answer differently later. */
const RETRIABLE_STATUSES = new Set([408, 429]);

/**
 * Fetches pages over HTTP(S), as the Go project's BrowserFetch did.
 *
 * Connections come from a {@linkcode ConnectionPool}: one `Deno.HttpClient` per origin from a
 * small LRU, at most `maxConnections` sockets in all, idle ones closed after `idleTimeoutMs`.
 * With proxies, one client per proxy, used in turn. `close()` releases them all. Running out of
 * file descriptors (or ports, or memory) throws a {@linkcode ResourceExhaustedError} after
 * closing every idle connection.
 *
 * @example
 * ```ts
 * const fetcher = new HttpFetcher({ timeoutMs: 5000, maxConnections: 64 });
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
  readonly #pool: ConnectionPool;
  #closed = false;

  /** A fetcher with no connection open yet; throws a `TypeError` for an invalid proxy URL. */
  constructor(options: HttpFetcherOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? 3000;
    this.#maxBodyBytes = options.maxBodyBytes ?? 10 * 1024 * 1024;
    this.#userAgent = options.userAgent ?? (() => DEFAULT_USER_AGENT);
    this.#fetch = options.fetch ?? fetch;
    this.#pool = new ConnectionPool({
      maxConnections: options.maxConnections ?? defaultMaxConnections(8),
      idleTimeoutMs: options.idleTimeoutMs,
      proxies: options.proxies,
      fetch: this.#fetch,
    });
  }

  async fetch(req: FetchRequest): Promise<FetchResponse> {
    if (this.#closed) throw new Error("HttpFetcher used after close()");
    req.signal?.throwIfAborted();
    const target = parseTarget(req.url);
    const headers = requestHeaders(req.userAgent ?? this.#userAgent(), req.cookie);
    if (req.validators?.etag) headers.set("If-None-Match", req.validators.etag);
    if (req.validators?.lastModified) {
      headers.set("If-Modified-Since", req.validators.lastModified);
    }
    // The wait for a socket is not part of the fetch's time limit: under load every fetch
    // would time out waiting, which says nothing about the host.
    const lease = await this.#pool.acquire(target, {
      keepAlive: req.keepAlive,
      signal: req.signal,
    });
    let redirected = false;

    // One signal for the fetch, aborted by the caller or by the timeout. Linked by hand, not with
    // AbortSignal.any: in Deno that keeps ~350 bytes per call alive on the caller's signal,
    // which lives as long as the task, i.e. a leak over millions of requests.
    const controller = new AbortController();
    const signal = controller.signal;
    let timedOut = false;
    const onAbort = () => controller.abort(req.signal?.reason);
    req.signal?.addEventListener("abort", onAbort, { once: true });
    const limited = this.#timeoutMs > 0 && Number.isFinite(this.#timeoutMs);
    const onTimeout = () => {
      timedOut = true;
      controller.abort(new DOMException(`timed out after ${this.#timeoutMs} ms`, "TimeoutError"));
    };
    let timer = limited ? setTimeout(onTimeout, this.#timeoutMs) : undefined;
    /**
     * A streamed body is read at its reader's pace, which is not the server's: the time limit
     * runs only while the reader waits for the next chunk.
     */
    const waiting = (on: boolean) => {
      clearTimeout(timer);
      timer = on && limited ? setTimeout(onTimeout, this.#timeoutMs) : undefined;
    };

    // Once, when the fetch is over: at its end, or for a streamed body once that is read.
    const end = () => {
      clearTimeout(timer);
      req.signal?.removeEventListener("abort", onAbort);
      lease.release({ redirected });
    };
    /** What a fetch that threw `error` rejects with. */
    const failure = (error: unknown): unknown => {
      // The caller's abort wins over everything: it is not a failure of the fetch.
      if (req.signal?.aborted) return req.signal.reason;
      if (error instanceof FetchError) return error;
      const resource = exhaustedResourceOf(error);
      if (resource) return this.#exhausted(`fetching ${req.url}`, resource, error);
      if (timedOut) {
        return new FetchError(`fetching ${req.url} timed out after ${this.#timeoutMs} ms`, {
          retriable: true,
          cause: signal.reason,
        });
      }
      return new FetchError(`fetching ${req.url} failed: ${messageOf(error)}`, {
        retriable: true,
        cause: error,
      });
    };
    const maxBodyBytes = req.maxBodyBytes ?? this.#maxBodyBytes;
    let streaming = false;

    try {
      const response = await this.#fetch(target, {
        method: req.method,
        headers,
        signal,
        redirect: "follow",
        client: lease.client,
      });
      redirected = response.redirected;
      const validators = validatorsOf(response);
      if (response.status === 304 && req.validators) {
        // Not modified since the last visit: nothing to read, nothing to parse.
        await discard(response);
        return {
          url: response.url || req.url,
          status: 304,
          body: "",
          contentType: response.headers.get("content-type"),
          bytes: 0,
          ...validators,
        };
      }
      if (!response.ok) {
        await discard(response);
        throw new FetchError(`HTTP ${response.status} from ${req.url}`, {
          retriable: response.status >= 500 || RETRIABLE_STATUSES.has(response.status),
          status: response.status,
          retryAfter: response.headers.get("retry-after") ?? undefined,
        });
      }
      const contentType = response.headers.get("content-type");
      if (req.stream) {
        const stream = await streamBody(response, maxBodyBytes, req.url, {
          failure,
          end,
          waiting,
        });
        streaming = true;
        waiting(false);
        // Aborted (the caller, or a chunk slower than the time limit): the connection goes.
        signal.addEventListener("abort", end, { once: true });
        return {
          url: response.url || req.url,
          status: response.status,
          get body(): string {
            throw new Error(`the body of ${req.url} was asked for as a stream: read \`stream\``);
          },
          stream,
          contentType,
          bytes: declaredLength(response) ?? 0,
          ...validators,
        };
      }
      const raw = await readBody(response, maxBodyBytes, req.url);
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
        ...validators,
      };
    } catch (error) {
      throw failure(error);
    } finally {
      if (!streaming) end();
    }
  }

  /**
   * A `fetch` that goes through this fetcher's connections and their bound, for the crawl's
   * other requests (robots.txt). Its responses hold a socket until their body is read or
   * cancelled. Running out of file descriptors rejects with a `ResourceExhaustedError`, as
   * `fetch()` does.
   *
   * @example
   * ```ts
   * const robots = new RobotsCache(hosts, { userAgent, fetch: fetcher.fetchFunction() });
   * ```
   */
  fetchFunction(options: { keepAlive?: boolean } = {}): typeof fetch {
    return async (input, init) => {
      try {
        return await this.#pool.fetch(input, init, options);
      } catch (error) {
        const resource = exhaustedResourceOf(error);
        if (!resource) throw error;
        const url = input instanceof Request ? input.url : String(input);
        throw this.#exhausted(`fetching ${url}`, resource, error);
      }
    };
  }

  /** The connections held now (see `ConnectionPoolStats`). */
  connectionStats(): ConnectionPoolStats {
    return this.#pool.stats();
  }

  /** Closes every connection. Fetches after this throw. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pool.close();
  }

  /** Same as `close()`, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** The error for running out of `resource`, after closing the idle connections it may free. */
  #exhausted(what: string, resource: ExhaustedResource, cause: unknown): ResourceExhaustedError {
    const shed = this.#pool.shed();
    return new ResourceExhaustedError(
      `${what} failed: out of ${resource} (${shed} idle connections closed): ` +
        causeChain(cause),
      { resource, cause },
    );
  }
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

/** The response's validators, for the page's next visit (absent headers left out). */
function validatorsOf(response: Response): Validators {
  const etag = response.headers.get("etag");
  const lastModified = response.headers.get("last-modified");
  return {
    ...(etag !== null && { etag }),
    ...(lastModified !== null && { lastModified }),
  };
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

/** The `Content-Length` of `response`, if it declares one. */
function declaredLength(response: Response): number | undefined {
  const declared = Number(response.headers.get("content-length") ?? NaN);
  return Number.isFinite(declared) ? declared : undefined;
}

/** The error for a body past `maxBytes`: not retriable, a bigger body will not shrink. */
function bodyTooLarge(url: string, maxBytes: number, status: number): FetchError {
  return new FetchError(`body of ${url} is larger than ${maxBytes} bytes`, {
    retriable: false,
    status,
  });
}

/** Reads the whole body, failing as soon as it grows past `maxBytes`. */
async function readBody(response: Response, maxBytes: number, url: string): Promise<Uint8Array> {
  const declared = declaredLength(response);
  if (declared !== undefined && declared > maxBytes) {
    await discard(response);
    throw bodyTooLarge(url, maxBytes, response.status);
  }
  if (!response.body) return new Uint8Array(0);
  // With the size declared and within the limit, one read into one buffer is the cheap path
  // (the chunk-by-chunk read below costs ~20 µs more per page); the server cannot send more
  // than it declared.
  if (declared !== undefined) return new Uint8Array(await response.arrayBuffer());
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw bodyTooLarge(url, maxBytes, response.status);
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

/**
 * The body of `response` as a stream read on demand: a chunk is taken from the socket only when
 * the reader asks, so no more than one is held here. It errors with `failure`'s error when the
 * body fails (a `FetchError` once it grows past `maxBytes`); `end` runs when it has been read to
 * its end, has failed or was cancelled; `waiting` is told when a read for the next chunk begins
 * and ends. A declared length over `maxBytes` fails at once.
 */
async function streamBody(
  response: Response,
  maxBytes: number,
  url: string,
  hooks: {
    failure: (error: unknown) => unknown;
    end: () => void;
    waiting: (on: boolean) => void;
  },
): Promise<ReadableStream<Uint8Array>> {
  const declared = declaredLength(response);
  if (declared !== undefined && declared > maxBytes) {
    await discard(response);
    throw bodyTooLarge(url, maxBytes, response.status);
  }
  const reader = response.body?.getReader();
  let total = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        hooks.waiting(true);
        const next = reader ? await reader.read() : undefined;
        hooks.waiting(false);
        if (!next || next.done) {
          hooks.end();
          controller.close();
          return;
        }
        total += next.value.byteLength;
        if (total > maxBytes) {
          await reader!.cancel();
          throw bodyTooLarge(url, maxBytes, response.status);
        }
        controller.enqueue(next.value);
      } catch (error) {
        hooks.end();
        controller.error(hooks.failure(error));
      }
    },
    async cancel(reason) {
      try {
        await reader?.cancel(reason);
      } catch {
        // A body that already failed has nothing left to release.
      } finally {
        hooks.end();
      }
    },
  }, { highWaterMark: 0 });
}

/** Drops a body we will not read, so its connection is released rather than left open. */
async function discard(response: Response): Promise<void> {
  try {
    await response.body?.cancel();
  } catch {
    // Nothing to release if the stream already failed; the status is the error we report.
  }
}

/** The messages of `error` and its causes: "fetch failed: error sending request …". */
function causeChain(error: unknown): string {
  const messages: string[] = [];
  for (let e = error, depth = 0; e !== undefined && e !== null && depth < 8; depth++) {
    messages.push(messageOf(e));
    e = e instanceof Error ? e.cause : undefined;
  }
  return messages.join(": ");
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
