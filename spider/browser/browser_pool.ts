/**
 * @module
 * The worker's Chromium: one browser per process, launched on first use, and its pages ("tabs")
 * handed out so that never more than `maxPages` exist at once — a page is opened only on a free
 * slot and its slot is given back only once it is closed. A browser that has rendered
 * `retireAfterPages` pages is replaced (it closes once its last page is done); one that crashes
 * or disconnects is dropped and the next page launches a new one. Every browser runs in its own
 * process group with a profile under the worker's browser dir, recorded in its pid file.
 */
import type { Browser, BrowserContext, Page } from "puppeteer-core";
import type { Logger } from "../../log/logger.ts";
import { BrowserPidFile, killGroup } from "./browser_processes.ts";
import { BrowserUnavailableError, chromiumArgs, chromiumProblem } from "./chromium_binary.ts";
import { within } from "./_deadline.ts";

/** Why a browser was launched: the worker's first, or the one before it retired, crashed or idled. */
export type LaunchReason = "first" | "retired" | "crashed" | "reopened";

/** How a render ended, for the metrics. */
export type RenderOutcome = "ok" | "http_error" | "timeout" | "failed" | "aborted";

/** Told of what the pool and its pages do (the worker's metrics implement it). */
export interface BrowserObserver {
  /** A page was rendered (or failed to be), taking `seconds` from navigation to its end. */
  rendered(outcome: RenderOutcome, seconds: number): void;
  /** A browser was launched. */
  launched(reason: LaunchReason): void;
}

/** What the pool holds now. */
export interface BrowserPoolStats {
  /** Pages open (rendering or idle, each holding one of `maxPages` slots). */
  pagesOpen: number;
  /** Pages rendering now. */
  pagesBusy: number;
  /** Browsers running (more than one only while a retired one finishes its pages). */
  browsers: number;
  /** Browsers launched since the pool was made. */
  launches: number;
  /** Renders waiting for a page slot. */
  waiting: number;
}

/** Options for {@linkcode BrowserPool}. */
export interface BrowserPoolOptions {
  /** The Chromium binary. */
  executablePath: string;
  /** The worker's browser dir: profiles and the pid file go there. */
  dataDir: string;
  /** Most pages open at once. Default 4. */
  maxPages?: number;
  /** A browser that has begun this many renders is replaced. Default 200. */
  retireAfterPages?: number;
  /** Longest a launch may take, ms. Default 30000. */
  launchTimeoutMs?: number;
  /** Longest closing a page or a browser may take before the browser is killed, ms. Default 5000. */
  closeTimeoutMs?: number;
  /** Sets a newly opened page up (request interception, handlers) before its first use. */
  prepareTab?: (tab: Tab) => Promise<void>;
  /** Where launches, retirements and crashes are logged. */
  logger: Logger;
  /** Told of renders and launches. Default: nobody. */
  observer?: BrowserObserver;
}

/** One browser process and its pages. */
export class BrowserHandle {
  /** Renders begun on it (it retires at `retireAfterPages`). */
  renders = 0;
  /** Its tabs rendering now. */
  busy = 0;
  /** Its tabs, idle or busy. */
  readonly tabs = new Set<Tab>();
  /** Its idle tabs, each holding its slot. */
  idle: Tab[] = [];
  /** `live` takes new renders; `retired` finishes its own; `closing` and `dead` are going. */
  state: "live" | "retired" | "closing" | "dead" = "live";
  readonly #gone = new AbortController();

  /**
   * A browser just launched: its number in the pool, its process, its profile, and why it was
   * launched.
   */
  constructor(
    readonly serial: number,
    readonly browser: Browser,
    readonly pid: number,
    readonly userDataDir: string,
    readonly reason: LaunchReason,
  ) {}

  /** Aborted when the browser has exited, been killed or crashed: its renders end at once. */
  get gone(): AbortSignal {
    return this.#gone.signal;
  }

  /** Marks it exited. */
  exited(): void {
    this.state = "dead";
    this.#gone.abort(new Error(`browser ${this.serial} (pid ${this.pid}) exited`));
  }
}

/**
 * A page of a browser, with its own browser context (cookies do not leak between pages of
 * different tasks), reused from render to render. What the render in progress allows it to
 * load is in `policy`; none while idle.
 */
export class Tab {
  /** The request policy of the render in progress. */
  policy?: TabPolicy;
  /** The `Cookie` its context holds now (the task's whose render used it last). */
  cookie = "";
  /** The User-Agent set on the page. */
  userAgent?: string;
  /** Requests of the render in progress not answered yet (for its network-idle wait). */
  readonly inflight = new Set<unknown>();
  /** Requests counted into `inflight` so far (to tell that one began during a check). */
  requests = 0;
  /** Called when `inflight` changes. */
  onNetwork?: () => void;
  /**
   * True when the render in progress is the first on a browser launched to replace one that
   * retired or crashed (a browser restart, counted for that render's task).
   */
  restart = false;

  /** A page of `handle`'s browser, in its own `context`. */
  constructor(
    readonly handle: BrowserHandle,
    readonly context: BrowserContext,
    readonly page: Page,
  ) {}
}

/** What a page being rendered may load. */
export interface TabPolicy {
  /** Hosts (`host:port`) the page may load from: the URL's own, and those it was redirected to. */
  hosts: Set<string>;
  /** Any host. */
  allowThirdParty: boolean;
  /** Resource types aborted. */
  block: ReadonlySet<string>;
  /**
   * False until the page's new document has committed: until then only its navigation may
   * load (the previous document, still alive, may not).
   */
  committed: boolean;
}

/** A render waiting for a page: given an idle tab, or a slot to open one on. */
interface Waiter {
  grant(grant: Tab | "slot"): void;
  fail(error: Error): void;
}

/**
 * The browsers of one worker process and their pages; see the module doc. `acquire` a tab,
 * render on it, `release` it.
 *
 * @example
 * ```ts
 * const pool = new BrowserPool({ executablePath: "/usr/bin/chromium", dataDir, logger });
 * const tab = await pool.acquire(signal);
 * try {
 *   await tab.page.goto(url);
 * } finally {
 *   pool.release(tab, { reuse: true });
 * }
 * await pool.shutdown();
 * ```
 */
export class BrowserPool {
  readonly #options: Required<Omit<BrowserPoolOptions, "observer" | "prepareTab">>;
  readonly #observer?: BrowserObserver;
  readonly #prepareTab?: (tab: Tab) => Promise<void>;
  readonly #pidFile: BrowserPidFile;
  readonly #handles = new Set<BrowserHandle>();
  #current?: BrowserHandle;
  #launching?: Promise<BrowserHandle>;
  /** Why the last browser ended: the reason of the next launch. */
  #nextLaunch: LaunchReason = "first";
  /** Slots taken: tabs open, or being opened. Never above `maxPages`. */
  #open = 0;
  readonly #waiters: Waiter[] = [];
  /** Releases and closes under way (`shutdown` waits for them). */
  readonly #pending = new Set<Promise<void>>();
  #launches = 0;
  #serial = 0;
  #closed = false;
  /** Set while no task uses the browser: it is closed as soon as no page is busy. */
  #closeWhenIdle = false;

  /** A pool with no browser yet; throws a `RangeError` for a `maxPages` below 1. */
  constructor(options: BrowserPoolOptions) {
    this.#options = {
      executablePath: options.executablePath,
      dataDir: options.dataDir,
      logger: options.logger,
      maxPages: options.maxPages ?? 4,
      retireAfterPages: options.retireAfterPages ?? 200,
      launchTimeoutMs: options.launchTimeoutMs ?? 30_000,
      closeTimeoutMs: options.closeTimeoutMs ?? 5000,
    };
    if (!Number.isInteger(this.#options.maxPages) || this.#options.maxPages < 1) {
      throw new RangeError("maxPages must be a positive integer");
    }
    this.#observer = options.observer;
    this.#prepareTab = options.prepareTab;
    this.#pidFile = new BrowserPidFile(options.dataDir);
  }

  /** Most pages open at once. */
  get maxPages(): number {
    return this.#options.maxPages;
  }

  /** Pages and browsers now. */
  stats(): BrowserPoolStats {
    let busy = 0;
    for (const handle of this.#handles) busy += handle.busy;
    return {
      pagesOpen: this.#open,
      pagesBusy: busy,
      browsers: this.#handles.size,
      launches: this.#launches,
      waiting: this.#waiters.length,
    };
  }

  /** The browsers running now (for tests: their pid and profile). */
  browsers(): BrowserHandle[] {
    return [...this.#handles];
  }

  /**
   * A tab to render on: an idle one, or a new one on a free slot (launching the browser if there
   * is none), or the first of either once another render is released. Rejects with the signal's
   * reason if it aborts first, with a {@linkcode BrowserUnavailableError} if there is no
   * Chromium, and with the launch's error if Chromium would not start.
   */
  async acquire(signal?: AbortSignal): Promise<Tab> {
    this.#throwIfClosed();
    signal?.throwIfAborted();
    this.#closeWhenIdle = false;
    const current = this.#current;
    const idle = current?.state === "live" ? current.idle.pop() : undefined;
    if (idle) return this.#begin(idle);
    if (this.#open < this.#options.maxPages) {
      this.#open++;
      return await this.#openTab(signal);
    }
    const grant = await this.#wait(signal);
    return grant === "slot" ? await this.#openTab(signal) : this.#begin(grant);
  }

  /**
   * Gives a tab back. With `reuse` (the render ended normally) it is kept for the next render,
   * loading nothing meanwhile; otherwise (a timeout, a crash) it is closed, which also stops
   * whatever the page was still doing. Its slot is free only once that is done: the returned
   * promise says when (the pool also tracks it, so callers need not wait).
   */
  release(tab: Tab, options: { reuse: boolean }): Promise<void> {
    return this.#track(this.#release(tab, options.reuse));
  }

  /**
   * No task uses the browser any more: close it now if no page is busy, else once the last one
   * is released. The next `acquire` launches a new one.
   */
  closeWhenIdle(): void {
    this.#closeWhenIdle = true;
    this.#closeIfIdle();
  }

  /**
   * Closes every browser (each given `closeTimeoutMs` to exit, then killed with its process
   * group) and removes their profiles. Renders waiting for a page are rejected.
   */
  async shutdown(): Promise<void> {
    this.#closed = true;
    this.#rejectWaiters();
    // A launch under way ends in #launch, which closes what it started once it sees #closed.
    await this.#launching?.catch(() => {});
    await Promise.all([...this.#handles].map((handle) => this.#closeBrowser(handle)));
    while (this.#pending.size > 0) await Promise.all(this.#pending);
  }

  /** Kills every browser at once (for a synchronous `close`); `shutdown` is the orderly way. */
  killAll(): void {
    this.#closed = true;
    this.#rejectWaiters();
    for (const handle of [...this.#handles]) {
      handle.state = "dead";
      killGroup(handle.pid);
      this.#forget(handle);
    }
  }

  #throwIfClosed(): void {
    if (this.#closed) throw new Error("BrowserPool used after shutdown()");
  }

  #rejectWaiters(): void {
    for (const waiter of this.#waiters.splice(0)) {
      waiter.fail(new Error("the browser pool was shut down"));
    }
  }

  /** Counts a render on `tab`'s browser; the one that reaches `retireAfterPages` retires it. */
  #begin(tab: Tab): Tab {
    const handle = tab.handle;
    handle.busy++;
    handle.renders++;
    tab.restart = handle.renders === 1 &&
      (handle.reason === "retired" || handle.reason === "crashed");
    if (handle.renders >= this.#options.retireAfterPages) this.#retire(handle);
    return tab;
  }

  /** Opens a tab on the slot the caller holds; the slot is freed again if that fails. */
  async #openTab(signal?: AbortSignal): Promise<Tab> {
    let handle: BrowserHandle;
    let context: BrowserContext | undefined;
    let page: Page;
    try {
      handle = await this.#browser(signal);
      context = await handle.browser.createBrowserContext({
        downloadBehavior: { policy: "deny" },
      });
      page = await context.newPage();
    } catch (error) {
      if (context) {
        const closing = context.close();
        this.#track(within(closing, this.#options.closeTimeoutMs, "closing a browser context"));
      }
      this.#freeSlot();
      throw error;
    }
    const tab = new Tab(handle, context, page);
    handle.tabs.add(tab);
    try {
      await this.#prepareTab?.(tab);
    } catch (error) {
      await this.#discard(tab); // frees the slot
      throw error;
    }
    return this.#begin(tab);
  }

  /** Waits for an idle tab or a free slot (FIFO), or for the signal to abort. */
  #wait(signal?: AbortSignal): Promise<Tab | "slot"> {
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(signal!.reason);
      };
      const waiter: Waiter = {
        grant: (grant) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(grant);
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

  /** A slot was freed: it goes to the first waiter, if any. */
  #freeSlot(): void {
    const waiter = this.#waiters.shift();
    if (waiter) waiter.grant("slot");
    else this.#open--;
  }

  async #release(tab: Tab, reuse: boolean): Promise<void> {
    const handle = tab.handle;
    handle.busy--;
    tab.policy = undefined;
    tab.onNetwork = undefined;
    tab.inflight.clear();
    // The page stays as it is until the next render navigates it: sending it to about:blank
    // would cost a new renderer process per page. Without a policy it loads nothing meanwhile.
    if (reuse && handle.state === "live" && !this.#closed) {
      const waiter = this.#waiters.shift();
      if (waiter) waiter.grant(tab);
      else handle.idle.push(tab);
    } else {
      await this.#discard(tab);
    }
    if (handle.state === "retired" && handle.busy === 0) await this.#closeBrowser(handle);
    this.#closeIfIdle();
  }

  /** Closes a tab and frees its slot; a tab that will not close takes its browser down with it. */
  async #discard(tab: Tab): Promise<void> {
    const handle = tab.handle;
    if (!handle.tabs.delete(tab)) return;
    handle.idle = handle.idle.filter((t) => t !== tab);
    if (!isGone(handle)) {
      try {
        await within(tab.context.close(), this.#options.closeTimeoutMs, "closing a page");
      } catch (error) {
        if (!isGone(handle)) {
          this.#options.logger.warn("a browser page would not close: killing its browser", {
            browser: handle.serial,
            error,
          });
          this.#kill(handle);
        }
      }
    }
    this.#freeSlot();
  }

  /** The live browser, launched if there is none (one launch at a time). */
  async #browser(signal?: AbortSignal): Promise<BrowserHandle> {
    if (this.#current?.state === "live") return this.#current;
    this.#launching ??= this.#launch().finally(() => this.#launching = undefined);
    const launching = this.#launching;
    if (!signal) return await launching;
    // A caller that stops waiting leaves the launch to finish: the browser is the next one's.
    return await new Promise<BrowserHandle>((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      launching.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
    });
  }

  async #launch(): Promise<BrowserHandle> {
    const { executablePath, dataDir, launchTimeoutMs, logger } = this.#options;
    const problem = chromiumProblem(executablePath);
    if (problem !== undefined) {
      throw new BrowserUnavailableError(executablePath, { cause: new Error(problem) });
    }
    // Loaded here, not at start: a worker whose tasks need no browser never loads puppeteer.
    const { default: puppeteer } = await import("puppeteer-core");
    const serial = ++this.#serial;
    const userDataDir = `${dataDir}/profile-${Deno.pid}-${serial}`;
    Deno.mkdirSync(userDataDir, { recursive: true });
    let browser: Browser;
    try {
      browser = await puppeteer.launch({
        executablePath,
        userDataDir,
        headless: true,
        args: chromiumArgs(),
        // Puppeteer starts it detached on POSIX: the leader of its own process group, so it
        // can be killed whole and a signal to the worker's group does not reach it.
        handleSIGINT: false,
        handleSIGTERM: false,
        handleSIGHUP: false,
        timeout: launchTimeoutMs,
        protocolTimeout: Math.max(launchTimeoutMs, 30_000),
        defaultViewport: { width: 1280, height: 1024 },
        downloadBehavior: { policy: "deny" },
      });
    } catch (error) {
      removeDir(userDataDir);
      throw error;
    }
    const pid = browser.process()?.pid;
    if (pid === undefined) {
      await browser.close();
      removeDir(userDataDir);
      throw new Error("Chromium started without a process id");
    }
    const reason = this.#nextLaunch;
    const handle = new BrowserHandle(serial, browser, pid, userDataDir, reason);
    this.#handles.add(handle);
    this.#pidFile.add(pid, userDataDir);
    browser.on("disconnected", () => this.#disconnected(handle));
    this.#launches++;
    this.#observer?.launched(reason);
    logger.info("browser started", { browser: serial, pid, reason, userDataDir });
    try {
      // Its first tab is not ours (and would count against maxPages): our tabs have contexts.
      for (const page of await browser.pages()) await page.close();
    } catch (error) {
      this.#kill(handle);
      throw error;
    }
    if (this.#closed) {
      await this.#closeBrowser(handle);
      throw new Error("the browser pool was shut down");
    }
    this.#current = handle;
    return handle;
  }

  /** Stops giving `handle` new renders; it closes once its busy pages are released. */
  #retire(handle: BrowserHandle): void {
    if (handle.state !== "live") return;
    handle.state = "retired";
    this.#notCurrent(handle, "retired");
    this.#options.logger.info("browser retired", {
      browser: handle.serial,
      renders: handle.renders,
    });
    if (handle.busy === 0) {
      this.#track(this.#closeBrowser(handle));
      return;
    }
    for (const tab of handle.idle.splice(0)) this.#track(this.#discard(tab));
  }

  /** Closes the browsers when no page is busy and no task uses them (see `closeWhenIdle`). */
  #closeIfIdle(): void {
    if (!this.#closeWhenIdle || this.#closed || this.#waiters.length > 0) return;
    if (this.#launching) return;
    let idle = 0;
    for (const handle of this.#handles) {
      if (handle.busy > 0) return;
      idle += handle.idle.length;
    }
    if (this.#open !== idle) return; // a tab is being opened or released
    this.#closeWhenIdle = false;
    for (const handle of [...this.#handles]) {
      this.#notCurrent(handle, "reopened");
      this.#track(this.#closeBrowser(handle));
    }
  }

  /** Closes a browser (bounded; killed if it will not exit) and frees its tabs' slots. */
  async #closeBrowser(handle: BrowserHandle): Promise<void> {
    if (handle.state === "closing" || handle.state === "dead") return;
    handle.state = "closing";
    this.#notCurrent(handle, "reopened");
    try {
      await within(handle.browser.close(), this.#options.closeTimeoutMs, "closing the browser");
    } catch (error) {
      this.#options.logger.warn("the browser would not close: killed", {
        browser: handle.serial,
        error,
      });
      killGroup(handle.pid);
    }
    this.#forget(handle);
    this.#options.logger.info("browser closed", { browser: handle.serial, pid: handle.pid });
  }

  /** The browser went away: expected while closing, a crash otherwise. */
  #disconnected(handle: BrowserHandle): void {
    if (handle.state === "closing" || handle.state === "dead") return;
    this.#options.logger.warn("browser disconnected: pages in flight fail and are retried", {
      browser: handle.serial,
      pid: handle.pid,
      busy: handle.busy,
    });
    this.#kill(handle); // whatever of it is left
  }

  /** Kills a browser that crashed or stopped answering; its pages in flight fail. */
  #kill(handle: BrowserHandle): void {
    if (handle.state === "dead") return;
    handle.state = "dead";
    this.#notCurrent(handle, "crashed");
    killGroup(handle.pid);
    this.#forget(handle);
  }

  /** `handle` takes no more renders; the next launch gives `reason`. */
  #notCurrent(handle: BrowserHandle, reason: LaunchReason): void {
    if (this.#current !== handle) return;
    this.#current = undefined;
    this.#nextLaunch = reason;
  }

  /**
   * Drops a browser that has exited (or been killed): its profile and pid-file entry go, and the
   * slots of its idle tabs are freed (the others are freed as their renders release them).
   */
  #forget(handle: BrowserHandle): void {
    handle.exited();
    if (!this.#handles.delete(handle)) return;
    this.#pidFile.remove(handle.pid);
    removeDir(handle.userDataDir);
    for (const tab of handle.idle.splice(0)) {
      handle.tabs.delete(tab);
      this.#freeSlot();
    }
  }

  /** Keeps `promise` for `shutdown` to wait for; its failure is logged. */
  #track(promise: Promise<void>): Promise<void> {
    const done = promise.catch((error) => {
      this.#options.logger.error("closing a browser page failed", { error });
    });
    this.#pending.add(done);
    done.finally(() => this.#pending.delete(done));
    return done;
  }
}

/** True once a browser is closing or has exited (its state changes behind `await`s). */
function isGone(handle: BrowserHandle): boolean {
  return handle.state === "closing" || handle.state === "dead";
}

function removeDir(path: string): void {
  try {
    Deno.removeSync(path, { recursive: true });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}
