/**
 * @module
 * `BrowserFetcher`: the engine's `Fetcher` for pages built by JavaScript. It navigates a
 * Chromium page (from the worker's {@linkcode BrowserPool}) to the URL, waits until the page is
 * ready (by default until the network has been idle for a moment after `load`), and returns the
 * rendered DOM as the body, so every rule — scan, stream, dom — reads it as it would read HTML.
 * One deadline covers navigation, waiting and reading. A page loads only from its own host
 * unless `allowThirdParty`, never images, media or fonts by default, and never navigates to
 * `file:`, `chrome:` or `data:` URLs; downloads are refused.
 */
import type { HTTPRequest } from "puppeteer-core";
import type { Logger } from "../../log/logger.ts";
import { type Fetcher, FetchError, type FetchRequest, type FetchResponse } from "../fetcher.ts";
import { DEFAULT_USER_AGENT } from "../politeness/user_agent_token.ts";
import {
  type BrowserObserver,
  BrowserPool,
  type BrowserPoolStats,
  type RenderOutcome,
  type Tab,
} from "./browser_pool.ts";
import { reapOrphanBrowsers } from "./browser_processes.ts";
import { BrowserUnavailableError, chromiumPath } from "./chromium_binary.ts";
import type { RenderOptions } from "./render_options.ts";
import type { BlockableResourceType } from "./resource_types.ts";
import { untilAborted } from "./_deadline.ts";

/** Options for {@linkcode BrowserFetcher}. */
export interface BrowserFetcherOptions {
  /** The worker's browser dir (profiles, pid file); see `defaultBrowserDir`. */
  dataDir: string;
  /** The Chromium binary. Default: `CHROMIUM_PATH`, else `/usr/bin/chromium`. */
  executablePath?: string;
  /** Most pages open at once. Default 4. */
  maxPages?: number;
  /** A browser that has rendered this many pages is replaced by a fresh one. Default 200. */
  retireAfterPages?: number;
  /** Deadline over navigation, waiting and reading one page, ms. Default 15000. */
  timeoutMs?: number;
  /** ms with no request in flight after `load` before a page counts as settled. Default 500. */
  idleMs?: number;
  /** Request types aborted. Default `["image", "media", "font"]`. */
  block?: readonly BlockableResourceType[];
  /** Let pages load from other hosts than their own. Default false. */
  allowThirdParty?: boolean;
  /** Largest rendered DOM accepted, in bytes (UTF-8); larger fails for good. Default 10 MiB. */
  maxBodyBytes?: number;
  /** User-Agent of a request that sets none. Default: the crawler's own. */
  userAgent?: () => string;
  /** Where launches, retirements and crashes are logged. */
  logger: Logger;
  /** Told of renders and launches (the worker's metrics). */
  observer?: BrowserObserver;
}

/** Navigation errors of Chromium no retry can fix. */
const FINAL_NET_ERRORS =
  /net::ERR_(ABORTED|BLOCKED_BY_CLIENT|BLOCKED_BY_RESPONSE|INVALID_URL|UNKNOWN_URL_SCHEME|DISALLOWED_URL_SCHEME|FILE_NOT_FOUND|ACCESS_DENIED)\b/;
/** What puppeteer says when the browser or the page went away under a call. */
const GONE =
  /Target closed|Session closed|Connection closed|browser has disconnected|Protocol error.*(closed|destroyed)|detached Frame|Navigating frame was detached/i;

const encoder = new TextEncoder();

/** What puppeteer says when the page's document was replaced under a call. */
const NAVIGATED = /Execution context was destroyed|Cannot find context|context.*navigat/i;

/** Request types that stay open as long as the page does. */
const STREAMS = new Set(["eventsource", "websocket"]);

/** What becomes of a page's request: let through, or aborted with that error. */
type Verdict = "continue" | "blockedbyclient" | "accessdenied";

/**
 * Renders pages in Chromium; see the module doc. Leftovers of an earlier run of this worker
 * (killed with -9) are killed when it is made; `shutdown()` closes its browsers, and `close()`
 * kills them at once.
 *
 * @example
 * ```ts
 * const browser = new BrowserFetcher({ dataDir: defaultBrowserDir(workerId), logger });
 * const page = await browser.fetch({ url, method: "GET", render: { waitFor: "#app h1" }, signal });
 * await browser.shutdown();
 * ```
 */
export class BrowserFetcher implements Fetcher {
  readonly #pool: BrowserPool;
  readonly #timeoutMs: number;
  readonly #idleMs: number;
  readonly #block: ReadonlySet<string>;
  readonly #allowThirdParty: boolean;
  readonly #maxBodyBytes: number;
  readonly #userAgent: () => string;
  readonly #observer?: BrowserObserver;
  readonly #logger: Logger;
  /** Signals of the tasks rendering with it: when the last one aborts, the browser may close. */
  readonly #tasks = new Set<AbortSignal>();
  #closed = false;

  /** A fetcher with no browser yet (it launches on the first render). */
  constructor(options: BrowserFetcherOptions) {
    this.#timeoutMs = options.timeoutMs ?? 15_000;
    this.#idleMs = options.idleMs ?? 500;
    this.#block = new Set(options.block ?? ["image", "media", "font"]);
    this.#allowThirdParty = options.allowThirdParty ?? false;
    this.#maxBodyBytes = options.maxBodyBytes ?? 10 * 1024 * 1024;
    this.#userAgent = options.userAgent ?? (() => DEFAULT_USER_AGENT);
    this.#observer = options.observer;
    this.#logger = options.logger;
    reapOrphanBrowsers(options.dataDir, { logger: options.logger });
    this.#pool = new BrowserPool({
      executablePath: chromiumPath(options.executablePath),
      dataDir: options.dataDir,
      maxPages: options.maxPages,
      retireAfterPages: options.retireAfterPages,
      logger: options.logger,
      observer: options.observer,
      prepareTab: (tab) => this.#prepare(tab),
    });
  }

  /** Pages and browsers now (for metrics and tests). */
  stats(): BrowserPoolStats {
    return this.#pool.stats();
  }

  /** The pool (for tests: its browsers' pids and profiles). */
  get pool(): BrowserPool {
    return this.#pool;
  }

  /**
   * Renders `req.url` (with `req.render`'s waits, default network idle) and resolves with its
   * DOM. Rejects with a `FetchError`: non-retriable for a URL that is not http(s), a refused
   * download or a missing Chromium; retriable for a `render timeout`, a crash, a network error;
   * by status for an HTTP error answer. Rejects with the signal's reason when it aborts.
   */
  async fetch(req: FetchRequest): Promise<FetchResponse> {
    if (this.#closed) throw new Error("BrowserFetcher used after close()");
    req.signal?.throwIfAborted();
    const url = httpTarget(req.url);
    this.#track(req.signal);
    let tab: Tab;
    try {
      tab = await this.#pool.acquire(req.signal);
    } catch (error) {
      if (req.signal?.aborted) throw req.signal.reason;
      if (error instanceof BrowserUnavailableError) {
        throw new FetchError(error.message, { retriable: false, cause: error });
      }
      throw new FetchError(`starting Chromium failed: ${messageOf(error)}`, {
        retriable: true,
        cause: error,
      });
    }
    const started = performance.now();
    req.renderWatch?.opened(tab.restart);
    let outcome: RenderOutcome = "failed";
    try {
      const page = await this.#render(tab, url, req, req.render ?? {});
      outcome = "ok";
      return page;
    } catch (error) {
      if (req.signal?.aborted) {
        outcome = "aborted";
        throw req.signal.reason;
      }
      const failure = this.#failure(error, tab, url);
      outcome = failure.status !== undefined
        ? "http_error"
        : failure.message.startsWith("render timeout")
        ? "timeout"
        : "failed";
      throw failure;
    } finally {
      const seconds = (performance.now() - started) / 1000;
      this.#observer?.rendered(outcome, seconds);
      req.renderWatch?.ended(outcome, seconds);
      // A page that answered (even with an error status) is fine to reuse; after a timeout or
      // a crash it is closed, which also stops whatever it was still doing.
      this.#pool.release(tab, { reuse: outcome === "ok" || outcome === "http_error" });
    }
  }

  /** Closes every browser, waiting for them to exit (bounded). */
  async shutdown(): Promise<void> {
    this.#closed = true;
    await this.#pool.shutdown();
  }

  /** Kills every browser at once; `shutdown` is the orderly way. */
  close(): void {
    this.#closed = true;
    this.#pool.killAll();
  }

  /** Same as `shutdown()`, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  async #render(
    tab: Tab,
    url: URL,
    req: FetchRequest,
    render: RenderOptions,
  ): Promise<FetchResponse> {
    const page = tab.page;
    // One deadline for the whole render; the caller's abort ends it too.
    const deadline = new AbortController();
    const signal = deadline.signal;
    let stage = "navigating";
    const timer = setTimeout(() => {
      const waitingOn = [...tab.inflight].slice(0, 3).map((r) => (r as HTTPRequest).url());
      deadline.abort(
        new FetchError(
          `render timeout: ${url.href} was not ready after ${this.#timeoutMs} ms (${stage}` +
            (waitingOn.length > 0 ? `; in flight: ${waitingOn.join(", ")}` : "") + ")",
          { retriable: true },
        ),
      );
    }, this.#timeoutMs);
    const onAbort = () => deadline.abort(req.signal?.reason);
    req.signal?.addEventListener("abort", onAbort, { once: true });
    // A crash ends the render at once, whatever it waits for.
    const onGone = () =>
      deadline.abort(
        new FetchError(`the browser went away while rendering ${url.href}`, {
          retriable: true,
          cause: tab.handle.gone.reason,
        }),
      );
    const onCrash = (error: Error) =>
      deadline.abort(
        new FetchError(`the page crashed while rendering ${url.href}: ${error.message}`, {
          retriable: true,
          cause: error,
        }),
      );
    tab.handle.gone.addEventListener("abort", onGone, { once: true });
    if (tab.handle.gone.aborted) onGone();
    page.on("error", onCrash);
    try {
      tab.inflight.clear();
      tab.policy = {
        hosts: new Set([url.host]),
        allowThirdParty: this.#allowThirdParty,
        block: this.#block,
        committed: false,
      };
      await untilAborted(this.#session(tab, url, req), signal);
      const waitUntil = render.waitUntil ?? "networkidle";
      const response = await page.goto(url.href, {
        waitUntil: waitUntil === "domcontentloaded" ? "domcontentloaded" : "load",
        timeout: 0,
        signal,
      });
      if (!response) {
        throw new FetchError(`navigating to ${url.href} gave no response`, { retriable: true });
      }
      const status = response.status();
      if (status < 200 || status > 299) {
        throw new FetchError(`HTTP ${status} from ${url.href}`, {
          retriable: status >= 500 || status === 408 || status === 429,
          status,
          retryAfter: response.headers()["retry-after"],
        });
      }
      if (waitUntil === "networkidle") {
        stage = "waiting for the network to be idle";
        await settled(tab, this.#idleMs, signal);
      }
      if (render.waitFor !== undefined) {
        stage = `waiting for ${render.waitFor}`;
        await page.waitForSelector(render.waitFor, { timeout: 0, signal });
      }
      stage = "reading the DOM";
      const body = await untilAborted(page.content(), signal);
      const raw = encoder.encode(body);
      if (raw.byteLength > this.#maxBodyBytes) {
        throw new FetchError(
          `rendered page ${url.href} has ${raw.byteLength} bytes, over ${this.#maxBodyBytes}`,
          { retriable: false },
        );
      }
      return {
        url: page.url() || url.href,
        status,
        body,
        raw,
        contentType: "text/html; charset=utf-8",
        bytes: raw.byteLength,
      };
    } catch (error) {
      if (signal.aborted && !req.signal?.aborted) throw signal.reason;
      throw error;
    } finally {
      clearTimeout(timer);
      req.signal?.removeEventListener("abort", onAbort);
      tab.handle.gone.removeEventListener("abort", onGone);
      page.off("error", onCrash);
    }
  }

  /** The task's cookies and User-Agent on the tab, for `url`. */
  async #session(tab: Tab, url: URL, req: FetchRequest): Promise<void> {
    const cookie = req.cookie ?? "";
    if (tab.cookie !== cookie) {
      // The tab served another task last: its cookies (and those the sites set) go.
      const old = await tab.context.cookies();
      if (old.length > 0) await tab.context.deleteCookie(...old);
      tab.cookie = cookie;
    }
    const pairs = cookiePairs(cookie);
    if (pairs.length > 0) {
      await tab.context.setCookie(
        ...pairs.map(([name, value]) => ({ name, value, domain: url.hostname, path: "/" })),
      );
    }
    const userAgent = req.userAgent ?? this.#userAgent();
    if (tab.userAgent !== userAgent) {
      await tab.page.setUserAgent({ userAgent });
      tab.userAgent = userAgent;
    }
  }

  /** Sets a new tab up: every request it makes goes through `#intercept`; no dialogs, no popups. */
  async #prepare(tab: Tab): Promise<void> {
    const page = tab.page;
    await page.setRequestInterception(true);
    page.on("request", (request) => this.#intercept(tab, request));
    // The network-idle wait counts this render's own requests: puppeteer's count lives as long
    // as the page, and one request it never saw end would keep a reused page busy for good.
    const ended = (request: HTTPRequest) => {
      if (tab.inflight.delete(request)) tab.onNetwork?.();
    };
    page.on("requestfinished", ended);
    page.on("requestfailed", ended);
    page.on("framenavigated", (frame) => {
      if (frame !== page.mainFrame() || !tab.policy || tab.policy.committed) return;
      // The new document is in: what the old one still had going is not this render's.
      tab.policy.committed = true;
      tab.inflight.clear();
      tab.onNetwork?.();
    });
    page.on("dialog", (dialog) => {
      dialog.dismiss().catch((error) => this.#logger.debug("dismissing a dialog", { error }));
    });
    page.on("popup", (popup) => {
      popup?.close().catch((error) => this.#logger.debug("closing a popup", { error }));
    });
    // No new windows: each would be one more page open.
    await page.evaluateOnNewDocument(() => {
      (globalThis as unknown as { open: () => null }).open = () => null;
    });
    await page.evaluateOnNewDocument(countPendingAnswers);
  }

  /** Lets a page's request through, or aborts it (see the module doc for what is refused). */
  #intercept(tab: Tab, request: HTTPRequest): void {
    if (request.isInterceptResolutionHandled()) return;
    let verdict: Verdict;
    try {
      verdict = this.#verdict(tab, request);
    } catch (error) {
      // Not left hanging (that would stall the page): refused, and said why.
      this.#logger.warn("deciding on a page request failed; it is refused", { error });
      verdict = "blockedbyclient";
    }
    // A stream (EventSource, WebSocket) stays open by design: it does not keep the page busy.
    if (verdict === "continue" && tab.policy && !STREAMS.has(request.resourceType())) {
      tab.inflight.add(request);
      tab.requests++;
      tab.onNetwork?.();
    }
    const done = verdict === "continue" ? request.continue() : request.abort(verdict);
    done.catch((error) => {
      // The page closed meanwhile (a timeout, a retired browser): nothing left to decide.
      this.#logger.debug("a page request outlived its page", { error });
    });
  }

  #verdict(tab: Tab, request: HTTPRequest): Verdict {
    const policy = tab.policy;
    if (!policy) return "blockedbyclient"; // an idle page loads nothing
    let url: URL;
    try {
      url = new URL(request.url());
    } catch {
      return "blockedbyclient";
    }
    const topNavigation = request.isNavigationRequest() && request.frame() === tab.page.mainFrame();
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      // Inline `data:` resources are the page's own; navigating to one, or to file: or
      // chrome:, is not.
      return url.protocol === "data:" && !request.isNavigationRequest() &&
          !policy.block.has(request.resourceType())
        ? "continue"
        : "accessdenied";
    }
    if (policy.block.has(request.resourceType())) return "blockedbyclient";
    if (url.pathname === "/favicon.ico") return "blockedbyclient"; // the browser's, not the page's
    if (topNavigation && request.redirectChain().length > 0) {
      // The page's URL redirected: the new host is the page's own now, as for an HTTP fetch.
      policy.hosts.add(url.host);
      return "continue";
    }
    // Before the new document commits, the old one is still alive: its late requests are not
    // this render's and go nowhere.
    if (!policy.committed && !topNavigation) return "blockedbyclient";
    if (policy.allowThirdParty || policy.hosts.has(url.host)) return "continue";
    return "blockedbyclient";
  }

  /** The `FetchError` for a render that failed with `error`. */
  #failure(error: unknown, tab: Tab, url: URL): FetchError {
    if (error instanceof FetchError) return error;
    const message = messageOf(error);
    if (tab.handle.state === "dead" || GONE.test(message)) {
      return new FetchError(`the browser went away while rendering ${url.href}: ${message}`, {
        retriable: true,
        cause: error,
      });
    }
    if (/net::ERR_ABORTED/.test(message)) {
      return new FetchError(
        `navigation to ${url.href} was aborted (a download, which is refused, or no content)`,
        { retriable: false, cause: error },
      );
    }
    return new FetchError(`rendering ${url.href} failed: ${message}`, {
      retriable: !FINAL_NET_ERRORS.test(message),
      cause: error,
    });
  }

  /**
   * Follows the tasks rendering with it: once every one of them has stopped (finished, paused,
   * deleted), the browser is closed when its last page is released.
   */
  #track(signal: AbortSignal | undefined): void {
    if (!signal || this.#tasks.has(signal)) return;
    this.#tasks.add(signal);
    signal.addEventListener("abort", () => {
      this.#tasks.delete(signal);
      if (this.#tasks.size === 0 && !this.#closed) this.#pool.closeWhenIdle();
    }, { once: true });
  }
}

/**
 * Resolves once the page has settled: no request in flight for `idleMs`, then the page's own
 * main thread idle (a `requestIdleCallback`, so what the last answer set off — parsing it,
 * writing the DOM — has run), with no request begun meanwhile. Under load, a page's script can
 * lag its network by more than `idleMs`; the second check catches that. Repeats until both
 * hold; the render's deadline (`signal`) bounds it.
 */
async function settled(tab: Tab, idleMs: number, signal: AbortSignal): Promise<void> {
  while (true) {
    await networkIdle(tab, idleMs, signal);
    const begun = tab.requests;
    let pending: number;
    try {
      pending = await untilAborted(
        tab.page.evaluate((ms: number) =>
          new Promise<number>((resolve) => {
            const page = globalThis as {
              requestIdleCallback?: (f: () => void, o: { timeout: number }) => void;
              __crawlerPending?: number;
            };
            const answer = () => resolve(page.__crawlerPending ?? 0);
            if (page.requestIdleCallback) page.requestIdleCallback(answer, { timeout: ms });
            else setTimeout(answer, 0);
          }), idleMs),
        signal,
      );
    } catch (error) {
      // The page navigated itself meanwhile (a client-side redirect): not settled yet.
      if (signal.aborted || !NAVIGATED.test(messageOf(error))) throw error;
      continue;
    }
    if (tab.inflight.size === 0 && tab.requests === begun && pending === 0) return;
  }
}

/**
 * Installed in every document before its scripts: counts the page's fetches and XHRs whose
 * answers its code has not had yet (`__crawlerPending`), which `settled` reads. A fetch counts
 * from its call until it settles, and again while its body is read (`json()`, `text()`, …); an
 * XHR from `send` to `loadend`; each stops counting a task later, once the code awaiting it has
 * run. The browser's network events come on another channel than the page's answers: under load
 * the network can look idle while the page has yet to see (or use) an answer — a CI run once
 * read a script-built page before its script had written it. Streams read from `body` count
 * until their headers arrive, as the network wait counts them.
 */
function countPendingAnswers(): void {
  // deno-lint-ignore no-explicit-any
  const page = globalThis as any;
  if (page.__crawlerPending !== undefined) return;
  page.__crawlerPending = 0;
  const end = () => setTimeout(() => page.__crawlerPending--, 0);
  const counted = <T>(answer: Promise<T>): Promise<T> => {
    page.__crawlerPending++;
    answer.then(end, end);
    return answer;
  };
  const wrap = (owner: Record<string, unknown> | undefined, name: string) => {
    const original = owner?.[name];
    if (typeof original !== "function") return;
    owner![name] = function (this: unknown, ...args: unknown[]) {
      return counted(original.apply(this, args));
    };
  };
  wrap(page, "fetch");
  for (const name of ["json", "text", "arrayBuffer", "blob", "formData"]) {
    wrap(page.Response?.prototype, name);
  }
  const xhr = page.XMLHttpRequest?.prototype;
  if (xhr && typeof xhr.send === "function") {
    const send = xhr.send;
    xhr.send = function (this: EventTarget, ...args: unknown[]) {
      // Counted before it goes: a synchronous XHR ends within `send`.
      page.__crawlerPending++;
      this.addEventListener("loadend", end, { once: true });
      try {
        return send.apply(this, args);
      } catch (error) {
        this.removeEventListener("loadend", end); // not sent (not opened): no loadend
        end();
        throw error;
      }
    };
  }
}

/**
 * Resolves once `tab` has had no request of its render in flight for `idleMs` (at once plus
 * `idleMs` if none is); rejects with the signal's reason when it aborts.
 */
function networkIdle(tab: Tab, idleMs: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const finish = (error?: unknown) => {
      clearTimeout(timer);
      tab.onNetwork = undefined;
      signal.removeEventListener("abort", onAbort);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onAbort = () => finish(signal.reason);
    const check = () => {
      clearTimeout(timer);
      timer = tab.inflight.size === 0 ? setTimeout(() => finish(), idleMs) : undefined;
    };
    if (signal.aborted) return reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    tab.onNetwork = check;
    check();
  });
}

/** The URL to navigate to; anything but http(s) fails for good before a page is taken. */
function httpTarget(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch (error) {
    throw new FetchError(`invalid URL ${JSON.stringify(raw)}`, { retriable: false, cause: error });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new FetchError(`refused to render ${url.protocol} URL ${raw}: only http(s) pages`, {
      retriable: false,
    });
  }
  return url;
}

/** `a=1; b=2` as name/value pairs; pieces without a name are dropped. */
export function cookiePairs(cookie: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const piece of cookie.split(";")) {
    const eq = piece.indexOf("=");
    const name = (eq < 0 ? "" : piece.slice(0, eq)).trim();
    if (name === "") continue;
    pairs.push([name, piece.slice(eq + 1).trim()]);
  }
  return pairs;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
