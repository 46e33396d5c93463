/**
 * @module
 * A bounded pool of HTTP connections for the fetcher: one `Deno.HttpClient` per origin, kept in
 * a small LRU, so the sockets the crawl holds do not grow with the number of hosts it visits.
 */

/** Options for {@linkcode ConnectionPool}. */
export interface ConnectionPoolOptions {
  /**
   * Most sockets the pool may hold at once: in flight plus possibly idle. A request that would
   * need more waits for one to be released. Default 32 (`defaultMaxConnections(8)`).
   */
  maxConnections?: number;
  /**
   * A client nobody has used for this long is closed with its idle sockets, ms (also the
   * sockets' own keep-alive limit). Default 2000.
   */
  idleTimeoutMs?: number;
  /**
   * Proxy URLs (`http://[user:pass@]host:port`). When given, every request goes through them in
   * turn, one client per proxy, and the bound counts the sockets to the proxies. Default none.
   */
  proxies?: readonly string[];
  /** The fetch that {@linkcode ConnectionPool.fetch} calls with a client. Default: the global. */
  fetch?: typeof fetch;
  /** Makes a client (tests pass a counting one). Default `Deno.createHttpClient`. */
  createClient?: (options: Deno.CreateHttpClientOptions) => Deno.HttpClient;
}

/** Options for {@linkcode ConnectionPool.acquire}. */
export interface LeaseOptions {
  /**
   * False for a request whose host will not be asked again soon (its next turn is far off): its
   * connection is closed once the response is read instead of being kept idle. Default true.
   */
  keepAlive?: boolean;
  /** Aborting it gives up waiting for a socket, rejecting with the signal's reason. */
  signal?: AbortSignal;
}

/** Options for {@linkcode ConnectionLease.release}. */
export interface ReleaseOptions {
  /**
   * The response was redirected: the client may hold connections to the other origins of the
   * chain, which its charge does not cover, so it is closed as soon as nothing is in flight.
   */
  redirected?: boolean;
}

/** The right to send one request with `client`; release it once its response body is done. */
export interface ConnectionLease {
  /** The client to pass to `fetch` (`{ client }`). */
  readonly client: Deno.HttpClient;
  /** Gives the socket back to the pool. Call it once the body is read or cancelled; idempotent. */
  release(options?: ReleaseOptions): void;
}

/** What the pool holds, for metrics and tests. */
export interface ConnectionPoolStats {
  /** Clients kept, one per origin (or proxy) recently fetched. */
  clients: number;
  /** Requests holding a socket now. */
  inFlight: number;
  /**
   * Sockets the kept clients may hold idle: for each, the most requests it had in flight at
   * once, less those in flight now. `inFlight + charged + closing` bounds the open sockets.
   */
  charged: number;
  /** Sockets of clients just closed, counted until the runtime has had a turn to close them. */
  closing: number;
  /** Requests waiting for a socket. */
  waiting: number;
}

/**
 * The default `maxConnections` for a fetch concurrency: two sockets per fetch slot (the one in
 * flight, robots.txt fetches included, and one idle to a host fetched again soon), and at least
 * 32. Each origin kept costs a client of ~100 KB besides its sockets.
 */
export function defaultMaxConnections(concurrency: number): number {
  return Math.max(32, 2 * concurrency);
}

/** A kept client and what it is charged. */
interface Entry {
  readonly key: string;
  readonly client: Deno.HttpClient;
  inFlight: number;
  /** Most requests it had in flight at once: a hyper pool never holds more sockets than that. */
  peak: number;
  /** When it was last acquired or released (`performance.now()`). */
  lastUsed: number;
  /** Close it as soon as nothing is in flight (a redirect or a keep-alive:false request). */
  retire: boolean;
}

/** A lease, or why there is none yet: a socket is on its way ("soon"), or not ("none"). */
type Grant = ConnectionLease | "soon" | "none";

/** A request waiting for a socket. */
interface Waiter {
  readonly key: string;
  readonly keepAlive: boolean;
  readonly grant: (lease: ConnectionLease) => void;
  readonly fail: (error: Error) => void;
}

/**
 * Hands out one `Deno.HttpClient` per origin (scheme://host:port) from a bounded LRU.
 *
 * Deno's global fetch keeps an idle keep-alive socket for every host it ever fetched: a broad
 * crawl runs out of file descriptors. Here each kept client is charged the most requests it had
 * in flight at once (its pool never holds more sockets than that), and in-flight requests plus
 * charges never exceed `maxConnections`: to make room, the least recently used clients with
 * nothing in flight are closed; when none is, the request waits until a socket is released.
 * A closed client's sockets still count until the runtime has had a turn to close them.
 * Clients unused for `idleTimeoutMs` are closed (an unref'd timer, cleared by `close()`), and
 * so is a client whose response was redirected, once idle (it may hold sockets to the other
 * origins of the chain). Requests with `keepAlive: false` go through one shared client that
 * keeps no idle socket. A client is never closed with a request in flight, except by `close()`.
 *
 * @example
 * ```ts
 * const pool = new ConnectionPool({ maxConnections: 64 });
 * const lease = await pool.acquire("https://example.com/page", { signal });
 * try {
 *   const response = await fetch("https://example.com/page", { client: lease.client, signal });
 *   await response.text();
 * } finally {
 *   lease.release();
 * }
 * pool.close();
 * ```
 */
export class ConnectionPool {
  readonly #max: number;
  readonly #idleTimeoutMs: number;
  readonly #proxies: readonly string[];
  readonly #fetch: typeof fetch;
  readonly #createClient: (options: Deno.CreateHttpClientOptions) => Deno.HttpClient;
  /** Kept clients by origin (or proxy), least recently used first. */
  readonly #entries = new Map<string, Entry>();
  readonly #waiters: Waiter[] = [];
  /** The client for keep-alive:false requests (no idle sockets), made on first use. */
  #oneShot: Deno.HttpClient | undefined;
  #nextProxy = 0;
  #inFlight = 0;
  #charged = 0;
  /** Sockets of clients just closed, which the runtime has not let go yet. */
  #closing = 0;
  readonly #closingTimers = new Set<ReturnType<typeof setTimeout>>();
  #sweepTimer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  /** A pool with nothing open yet; throws a `TypeError` for an invalid proxy URL. */
  constructor(options: ConnectionPoolOptions = {}) {
    this.#max = options.maxConnections ?? defaultMaxConnections(8);
    if (!Number.isInteger(this.#max) || this.#max < 1) {
      throw new RangeError(`maxConnections must be a positive integer, got ${this.#max}`);
    }
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 2000;
    if (!(this.#idleTimeoutMs >= 0)) {
      throw new RangeError(`idleTimeoutMs must not be negative, got ${this.#idleTimeoutMs}`);
    }
    this.#proxies = (options.proxies ?? []).map(proxyHref);
    this.#fetch = options.fetch ?? fetch;
    this.#createClient = options.createClient ?? Deno.createHttpClient;
  }

  /**
   * A client for a request to `url`, once a socket is free within the bound. Rejects with a
   * `TypeError` for a URL that does not parse, with `signal.reason` if it aborts while waiting,
   * or with an `Error` once the pool is closed.
   */
  acquire(url: string | URL, options: LeaseOptions = {}): Promise<ConnectionLease> {
    if (this.#closed) return Promise.reject(new Error("ConnectionPool used after close()"));
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    let key: string;
    try {
      key = this.#proxies.length > 0
        ? `proxy ${this.#proxies[this.#nextProxy++ % this.#proxies.length]}`
        : new URL(url).origin;
    } catch (error) {
      return Promise.reject(error);
    }
    // A proxy's connection is shared by every host behind it: always worth keeping.
    const keepAlive = this.#proxies.length > 0 || (options.keepAlive ?? true);
    // Those already waiting go first to a new socket; reusing a client's idle one jumps no queue.
    const grant = this.#tryGrant(key, keepAlive, this.#waiters.length === 0 ? 0 : undefined);
    if (typeof grant === "object") return Promise.resolve(grant);
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(signal!.reason);
        // Its place at the head may have held back others that fit now.
        this.#pump();
      };
      const waiter: Waiter = {
        key,
        keepAlive,
        grant: (lease) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(lease);
        },
        fail: (error) => {
          signal?.removeEventListener("abort", onAbort);
          reject(error);
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /**
   * `fetch` through the pool: waits for a socket (counting against `init.signal`), sends the
   * request with the origin's client, and releases the socket when the response body has been
   * read, cancelled or has failed. A response whose body is never read nor cancelled keeps its
   * socket, as with any fetch. `init.client` is ignored.
   */
  async fetch(
    input: string | URL | Request,
    init: RequestInit = {},
    options: { keepAlive?: boolean } = {},
  ): Promise<Response> {
    const url = input instanceof Request ? input.url : String(input);
    const signal = init.signal ?? (input instanceof Request ? input.signal : undefined);
    const lease = await this.acquire(url, { signal, keepAlive: options.keepAlive });
    let response: Response;
    try {
      response = await this.#fetch(input, { ...init, client: lease.client });
    } catch (error) {
      lease.release();
      throw error;
    }
    return trackBody(response, lease);
  }

  /**
   * Closes every client with nothing in flight at once, and returns how many: what to do when the
   * process runs out of file descriptors. Clients in flight are closed as soon as they are done.
   */
  shed(): number {
    let closed = 0;
    for (const entry of [...this.#entries.values()]) {
      if (entry.inFlight === 0) {
        this.#drop(entry);
        closed++;
      } else {
        entry.retire = true;
      }
    }
    this.#pump();
    return closed;
  }

  /** The pool's counts now. */
  stats(): ConnectionPoolStats {
    return {
      clients: this.#entries.size,
      inFlight: this.#inFlight,
      charged: this.#charged,
      closing: this.#closing,
      waiting: this.#waiters.length,
    };
  }

  /**
   * Closes every client, in flight or not, stops the idle timer and fails the waiting requests.
   * Acquiring afterwards rejects; releasing a lease taken before is harmless.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#sweepTimer);
    this.#sweepTimer = undefined;
    for (const timer of this.#closingTimers) clearTimeout(timer);
    this.#closingTimers.clear();
    for (const entry of this.#entries.values()) entry.client.close();
    this.#entries.clear();
    this.#oneShot?.close();
    this.#oneShot = undefined;
    const closed = new Error("ConnectionPool closed while waiting for a connection");
    for (const waiter of this.#waiters.splice(0)) waiter.fail(closed);
  }

  /** Same as `close()`, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * A lease for `key` if it fits the bound now, closing idle clients to make room; else whether
   * a socket is on its way ("soon": a closed client's sockets are going) or not ("none").
   * `reserved` counts the sockets promised to those ahead in line; undefined means the request
   * may not open a socket at all (one ahead is waiting for one: a new socket goes to it first).
   */
  #tryGrant(key: string, keepAlive: boolean, reserved: number | undefined): Grant {
    let entry = this.#entries.get(key);
    const reusesCharge = entry !== undefined && entry.inFlight < entry.peak;
    if (!reusesCharge) {
      if (reserved === undefined) return "none";
      const room = this.#makeRoom(entry, reserved);
      if (room !== "now") return room;
    }
    // Without keep-alive a new socket comes from the client that keeps none idle.
    if (!keepAlive && !reusesCharge) return this.#oneShotLease();
    if (entry === undefined) {
      entry = {
        key,
        client: this.#createClient({
          poolIdleTimeout: this.#idleTimeoutMs,
          ...(key.startsWith("proxy ") ? { proxy: { url: key.slice("proxy ".length) } } : {}),
        }),
        inFlight: 0,
        peak: 0,
        lastUsed: 0,
        retire: false,
      };
    }
    // A keep-alive:false request still reuses the origin's warm connection, then lets it go.
    if (!keepAlive) entry.retire = true;
    if (entry.inFlight < entry.peak) this.#charged--; // takes over an idle socket's charge
    else entry.peak++;
    entry.inFlight++;
    this.#inFlight++;
    this.#touch(entry);
    return this.#entryLease(entry);
  }

  /**
   * Whether one more socket fits beside the `reserved` ones, after closing least recently used
   * clients with nothing in flight (never `keep`, the client the new socket is for): "now", or
   * "soon" once the sockets of clients just closed are gone, or "none".
   */
  #makeRoom(keep: Entry | undefined, reserved: number): "now" | "soon" | "none" {
    const held = () => this.#inFlight + this.#charged + reserved;
    if (held() >= this.#max) {
      for (const entry of this.#entries.values()) {
        if (entry === keep || entry.inFlight > 0) continue;
        this.#drop(entry);
        if (held() < this.#max) break;
      }
      if (held() >= this.#max) return "none";
    }
    return held() + this.#closing < this.#max ? "now" : "soon";
  }

  #entryLease(entry: Entry): ConnectionLease {
    let released = false;
    return {
      client: entry.client,
      release: (options = {}) => {
        if (released) return;
        released = true;
        if (this.#closed) return;
        entry.inFlight--;
        this.#inFlight--;
        this.#charged++;
        if (options.redirected) entry.retire = true;
        if (entry.retire && entry.inFlight === 0) this.#drop(entry);
        else this.#touch(entry);
        this.#pump();
        this.#scheduleSweep();
      },
    };
  }

  #oneShotLease(): ConnectionLease {
    this.#oneShot ??= this.#createClient({ poolMaxIdlePerHost: 0 });
    this.#inFlight++;
    let released = false;
    return {
      client: this.#oneShot,
      release: () => {
        if (released) return;
        released = true;
        if (this.#closed) return;
        this.#inFlight--;
        // Its socket is closed once the response is done, a moment later.
        this.#closingFor(1);
        this.#pump();
      },
    };
  }

  /** Marks `entry` most recently used. */
  #touch(entry: Entry): void {
    entry.lastUsed = performance.now();
    this.#entries.delete(entry.key);
    this.#entries.set(entry.key, entry);
  }

  /** Closes a client with nothing in flight; its charge counts until its sockets are gone. */
  #drop(entry: Entry): void {
    this.#entries.delete(entry.key);
    const sockets = entry.peak - entry.inFlight;
    this.#charged -= sockets;
    entry.client.close();
    this.#closingFor(sockets);
  }

  /**
   * Counts `sockets` as still open until the runtime has had a turn to close them: a client's
   * sockets go after `close()` returns (on Deno 2.9, by the next timer turn). Without this, a
   * busy pool opens new sockets before the old ones are gone, past the bound.
   */
  #closingFor(sockets: number): void {
    if (sockets <= 0) return;
    this.#closing += sockets;
    const timer = setTimeout(() => {
      this.#closingTimers.delete(timer);
      this.#closing -= sockets;
      this.#pump();
    }, 0);
    this.#closingTimers.add(timer);
  }

  /**
   * Grants what now fits to the waiters, in order; once one needs a socket that cannot be had,
   * only those that reuse an idle socket's charge.
   */
  #pump(): void {
    let reserved: number | undefined = 0;
    for (let i = 0; i < this.#waiters.length;) {
      const waiter = this.#waiters[i];
      const grant = this.#tryGrant(waiter.key, waiter.keepAlive, reserved);
      if (typeof grant === "object") {
        this.#waiters.splice(i, 1);
        waiter.grant(grant);
        continue;
      }
      // A socket on its way is this waiter's; those behind need one more.
      reserved = grant === "soon" && reserved !== undefined ? reserved + 1 : undefined;
      i++;
    }
  }

  /** Closes the clients idle for `idleTimeoutMs`. */
  #sweep(): void {
    const now = performance.now();
    for (const entry of [...this.#entries.values()]) {
      if (now - entry.lastUsed < this.#idleTimeoutMs) break; // the rest were used later
      if (entry.inFlight === 0) this.#drop(entry);
    }
    this.#pump();
  }

  /** Arms the timer for the oldest idle client's expiry, unless armed or nothing is idle. */
  #scheduleSweep(): void {
    if (this.#sweepTimer !== undefined || this.#closed) return;
    let oldestIdle: Entry | undefined;
    for (const entry of this.#entries.values()) {
      if (entry.inFlight === 0) {
        oldestIdle = entry;
        break;
      }
    }
    if (!oldestIdle) return;
    const wait = Math.max(0, oldestIdle.lastUsed + this.#idleTimeoutMs - performance.now());
    const timer = setTimeout(() => {
      this.#sweepTimer = undefined;
      this.#sweep();
      this.#scheduleSweep();
    }, Math.ceil(wait));
    // Idle clients are no reason to keep the process alive.
    Deno.unrefTimer(timer);
    this.#sweepTimer = timer;
  }
}

/** The proxy URL as Deno takes it (credentials in it become Proxy-Authorization). */
function proxyHref(proxy: string): string {
  try {
    return new URL(proxy).href;
  } catch (error) {
    throw new TypeError(`invalid proxy URL ${JSON.stringify(proxy)}`, { cause: error });
  }
}

/** Statuses whose response cannot carry a body. */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/** `response`, with `lease` released once its body is read to the end, cancelled or failed. */
async function trackBody(response: Response, lease: ConnectionLease): Promise<Response> {
  const releaseOptions = { redirected: response.redirected };
  const body = response.body;
  if (body === null || NULL_BODY_STATUSES.has(response.status)) {
    try {
      await body?.cancel();
    } finally {
      lease.release(releaseOptions);
    }
    return response;
  }
  const reader = body.getReader();
  const tracked = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          lease.release(releaseOptions);
          controller.close();
        } else {
          controller.enqueue(value);
        }
      } catch (error) {
        lease.release(releaseOptions);
        throw error;
      }
    },
    async cancel(reason) {
      try {
        await reader.cancel(reason);
      } finally {
        lease.release(releaseOptions);
      }
    },
  }, { highWaterMark: 0 });
  const wrapped = new Response(tracked, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
  // What the caller may read of the original that a new Response cannot be given.
  Object.defineProperties(wrapped, {
    url: { value: response.url },
    redirected: { value: response.redirected },
  });
  return wrapped;
}
