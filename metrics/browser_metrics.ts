/**
 * @module
 * What the worker's Chromium does, for `/metrics`: pages rendered by outcome, render time as a
 * histogram, browser launches and restarts by reason, pages and browsers open now.
 */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type {
  BrowserObserver,
  BrowserPoolStats,
  LaunchReason,
  RenderOutcome,
} from "../spider/browser/browser_pool.ts";
import { RENDER_SECONDS_BUCKETS } from "../spider/browser/render_stats.ts";

/**
 * The browser metrics of one engine: pass it as the `BrowserFetcher`'s observer, `watch` the
 * fetcher's stats, and `register` it on a registry to expose it.
 *
 * @example
 * ```ts
 * const metrics = new BrowserMetrics();
 * const browser = new BrowserFetcher({ dataDir, logger, observer: metrics });
 * metrics.watch(() => browser.stats());
 * metrics.register(registry);
 * ```
 */
export class BrowserMetrics implements BrowserObserver {
  readonly #rendered: Counter<"outcome">;
  readonly #duration: Histogram;
  readonly #launches: Counter<"reason">;
  readonly #restarts: Counter<"reason">;
  readonly #pagesOpen: Gauge;
  readonly #browsers: Gauge;
  #stats: () => BrowserPoolStats | undefined = () => undefined;

  constructor() {
    this.#rendered = new Counter({
      name: "crawler_browser_pages_rendered_total",
      help: "Pages rendered in Chromium, by outcome (ok, http_error, timeout, failed, aborted).",
      labelNames: ["outcome"],
      registers: [],
    });
    this.#duration = new Histogram({
      name: "crawler_browser_render_seconds",
      help: "Time from navigation to the rendered DOM read (or the failure), in seconds.",
      buckets: [...RENDER_SECONDS_BUCKETS],
      registers: [],
    });
    this.#launches = new Counter({
      name: "crawler_browser_launches_total",
      help: "Chromium launches, by why the one before ended (first, retired, crashed, reopened).",
      labelNames: ["reason"],
      registers: [],
    });
    this.#restarts = new Counter({
      name: "crawler_browser_restarts_total",
      help: "Chromium replaced mid-crawl: retired after retireAfterPages, or crashed.",
      labelNames: ["reason"],
      registers: [],
    });
    const stats = () => this.#stats();
    this.#pagesOpen = new Gauge({
      name: "crawler_browser_pages_open",
      help: "Chromium pages open now (rendering or idle), at most [browser] maxPages.",
      registers: [],
      collect() {
        this.set(stats()?.pagesOpen ?? 0);
      },
    });
    this.#browsers = new Gauge({
      name: "crawler_browser_processes",
      help: "Chromium browsers running now (two only while a retired one finishes its pages).",
      registers: [],
      collect() {
        this.set(stats()?.browsers ?? 0);
      },
    });
  }

  /** Reads the gauges from `stats` at scrape time. */
  watch(stats: () => BrowserPoolStats): void {
    this.#stats = stats;
  }

  /** Exposes these metrics on `registry`. */
  register(registry: Registry): void {
    registry.registerMetric(this.#rendered);
    registry.registerMetric(this.#duration);
    registry.registerMetric(this.#launches);
    registry.registerMetric(this.#restarts);
    registry.registerMetric(this.#pagesOpen);
    registry.registerMetric(this.#browsers);
  }

  rendered(outcome: RenderOutcome, seconds: number): void {
    this.#rendered.inc({ outcome });
    if (outcome !== "aborted") this.#duration.observe(seconds);
  }

  launched(reason: LaunchReason): void {
    this.#launches.inc({ reason });
    if (reason === "retired" || reason === "crashed") this.#restarts.inc({ reason });
  }
}
