/**
 * @module
 * What every fetch adds to the metrics: fetches by status class, their latency as a histogram,
 * and per-host counters for the busiest hosts only (a broad crawl meets millions of hosts; one
 * series each would sink Prometheus).
 */
import { Counter, Histogram, type Registry } from "prom-client";
import { type Fetcher, FetchError, type FetchRequest } from "../spider/fetcher.ts";

/** Hosts remembered at most; fetches of hosts beyond it count under `other` at once. */
const MAX_TRACKED_HOSTS = 2_000;

/** Options of {@linkcode FetchMetrics}. */
export interface FetchMetricsOptions {
  /**
   * How many hosts get their own `host` label: the busiest by fetches. The rest are summed
   * under `host="other"`. 0 turns the per-host series off. Default 20.
   */
  topHosts?: number;
}

/** Status class of a fetch: `2xx`…`5xx`, or `error` when no HTTP answer came. */
export type StatusClass = "1xx" | "2xx" | "3xx" | "4xx" | "5xx" | "error";

/** The fetch metrics of one engine; `register` them on a registry to expose them. */
export class FetchMetrics {
  readonly #fetches: Counter<"class">;
  readonly #duration: Histogram;
  readonly #hostFetches: Counter<"host">;
  readonly #hostFailures: Counter<"host">;
  readonly #hosts = new Map<string, { fetches: number; failures: number }>();
  readonly #other = { fetches: 0, failures: 0 };
  readonly #topHosts: number;

  constructor(options: FetchMetricsOptions = {}) {
    this.#topHosts = options.topHosts ?? 20;
    this.#fetches = new Counter({
      name: "crawler_fetches_total",
      help: "Fetches by HTTP status class (error: no HTTP answer: network error or timeout).",
      labelNames: ["class"],
      registers: [],
    });
    this.#duration = new Histogram({
      name: "crawler_fetch_duration_seconds",
      help: "Time from sending a request to having its whole body, in seconds.",
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [],
    });
    const hosts = this.#hosts;
    const other = this.#other;
    const top = () => this.#top();
    this.#hostFetches = new Counter({
      name: "crawler_host_fetches_total",
      help:
        'Fetches per host, for the busiest metrics.topHosts hosts; the rest under host="other".',
      labelNames: ["host"],
      registers: [],
      collect() {
        this.reset();
        const [shown, rest] = top();
        for (const host of shown) this.inc({ host }, hosts.get(host)!.fetches);
        const restFetches = rest.reduce((n, host) => n + hosts.get(host)!.fetches, other.fetches);
        if (restFetches > 0) this.inc({ host: "other" }, restFetches);
      },
    });
    this.#hostFailures = new Counter({
      name: "crawler_host_fetch_failures_total",
      help: "Failed fetches (4xx, 5xx, no answer) per host, for the same hosts.",
      labelNames: ["host"],
      registers: [],
      collect() {
        this.reset();
        const [shown, rest] = top();
        for (const host of shown) this.inc({ host }, hosts.get(host)!.failures);
        const restFailures = rest.reduce(
          (n, host) => n + hosts.get(host)!.failures,
          other.failures,
        );
        if (restFailures > 0) this.inc({ host: "other" }, restFailures);
      },
    });
  }

  /** Exposes these metrics on `registry`. */
  register(registry: Registry): void {
    registry.registerMetric(this.#fetches);
    registry.registerMetric(this.#duration);
    if (this.#topHosts > 0) {
      registry.registerMetric(this.#hostFetches);
      registry.registerMetric(this.#hostFailures);
    }
  }

  /** Records one fetch of `url` that ended with `statusClass` after `seconds`. */
  observe(url: string, statusClass: StatusClass, seconds: number): void {
    this.#fetches.inc({ class: statusClass });
    this.#duration.observe(seconds);
    if (this.#topHosts === 0) return;
    const failed = statusClass !== "2xx" && statusClass !== "3xx" ? 1 : 0;
    const host = hostOf(url);
    let entry = this.#hosts.get(host);
    if (!entry) {
      if (this.#hosts.size >= MAX_TRACKED_HOSTS) {
        this.#other.fetches++;
        this.#other.failures += failed;
        return;
      }
      entry = { fetches: 0, failures: 0 };
      this.#hosts.set(host, entry);
    }
    entry.fetches++;
    entry.failures += failed;
  }

  /**
   * `fetcher` with every fetch measured. A fetch the caller aborted is not counted: it says
   * nothing about the site.
   */
  measure(fetcher: Fetcher): Fetcher {
    return {
      fetch: async (req: FetchRequest) => {
        const started = performance.now();
        try {
          const response = await fetcher.fetch(req);
          this.observe(req.url, classOf(response.status), (performance.now() - started) / 1000);
          return response;
        } catch (error) {
          if (!req.signal?.aborted) {
            const status = error instanceof FetchError ? error.status : undefined;
            this.observe(
              req.url,
              status === undefined ? "error" : classOf(status),
              (performance.now() - started) / 1000,
            );
          }
          throw error;
        }
      },
      close: () => fetcher.close?.(),
    };
  }

  /** The hosts shown with their own label, and the rest. */
  #top(): [shown: string[], rest: string[]] {
    const byFetches = [...this.#hosts.keys()].sort((a, b) =>
      this.#hosts.get(b)!.fetches - this.#hosts.get(a)!.fetches || a.localeCompare(b)
    );
    return [byFetches.slice(0, this.#topHosts), byFetches.slice(this.#topHosts)];
  }
}

function classOf(status: number): StatusClass {
  const hundreds = Math.floor(status / 100);
  return hundreds >= 1 && hundreds <= 5 ? `${hundreds}xx` as StatusClass : "error";
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "invalid";
  }
}
