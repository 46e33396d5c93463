/**
 * @module
 * Each host's robots.txt, fetched once and kept (24 h by default) in the host store, so every
 * worker sharing the store reads the same rules; parsed rules are also kept in this process.
 */
import type { HostStore, RobotsRecord } from "./host_store.ts";
import { fetchRobots, type FetchRobotsOptions } from "./robots_fetch.ts";
import { RobotsRules } from "./robots_rules.ts";

/** Options for {@linkcode RobotsCache}. */
export interface RobotsCacheOptions {
  /** Sent when fetching robots.txt. */
  userAgent: string;
  /** How long a fetched robots.txt is used, ms. Default 86400000 (24 h, RFC 9309 §2.4). */
  ttlMs?: number;
  /** How long a host whose robots.txt failed (5xx, unreachable) stays blocked. Default 60000. */
  retryMs?: number;
  /** Time limit of one robots.txt fetch, ms. Default 10000. */
  timeoutMs?: number;
  /** The clock, epoch ms. Default `Date.now`. */
  now?: () => number;
  /** The fetch to use. Default: the global `fetch`. */
  fetch?: typeof fetch;
  /** Hosts whose parsed rules are kept in the process (the least recently used go). Default 2048. */
  maxParsed?: number;
  /** Told when a host's robots.txt could not be fetched (it is then blocked). */
  onBlocked?: (host: string, reason: string) => void;
}

/**
 * Hosts' robots.txt, each fetched on first use and again when it expires, kept parsed in a
 * bounded in-memory cache over the host store's copy. It holds nothing to close: the worker
 * wiring makes one per process for its `Politeness` and drops it with the process.
 */
export class RobotsCache {
  readonly #store: HostStore;
  readonly #options: RobotsCacheOptions;
  readonly #now: () => number;
  readonly #parsed = new Map<string, { rules: RobotsRules; expiresAt: number }>();
  readonly #pending = new Map<string, Promise<RobotsRules>>();

  constructor(store: HostStore, options: RobotsCacheOptions) {
    this.#store = store;
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /**
   * The rules of `host` (a `hostKey`). Concurrent callers for one host share one fetch.
   * Rejects only when `signal` aborts or the store fails.
   */
  rules(host: string, signal?: AbortSignal): Promise<RobotsRules> {
    const cached = this.#parsed.get(host);
    if (cached && cached.expiresAt > this.#now()) {
      // Most recently used last: the first entry is the one to forget.
      this.#parsed.delete(host);
      this.#parsed.set(host, cached);
      return Promise.resolve(cached.rules);
    }
    let pending = this.#pending.get(host);
    if (!pending) {
      pending = this.#load(host, signal).finally(() => this.#pending.delete(host));
      this.#pending.set(host, pending);
    }
    return pending;
  }

  async #load(host: string, signal?: AbortSignal): Promise<RobotsRules> {
    let record = await this.#store.robots(host);
    if (!record || record.expiresAt <= this.#now()) {
      record = await this.#fetch(host, signal);
      await this.#store.saveRobots(host, record);
    }
    const rules = RobotsRules.from(record.outcome, host, record.text);
    this.#parsed.delete(host);
    this.#parsed.set(host, { rules, expiresAt: record.expiresAt });
    // A broad crawl meets more hosts than it should hold parsed: the store has them all.
    while (this.#parsed.size > (this.#options.maxParsed ?? 2048)) {
      this.#parsed.delete(this.#parsed.keys().next().value!);
    }
    return rules;
  }

  async #fetch(host: string, signal?: AbortSignal): Promise<RobotsRecord> {
    const options: FetchRobotsOptions = {
      userAgent: this.#options.userAgent,
      timeoutMs: this.#options.timeoutMs,
      fetch: this.#options.fetch,
      signal,
    };
    const result = await fetchRobots(host, options);
    const fetchedAt = this.#now();
    const blocked = result.outcome === "disallow-all";
    if (blocked) this.#options.onBlocked?.(host, result.reason ?? "unknown");
    const lifetime = blocked ? this.#options.retryMs ?? 60_000 : this.#options.ttlMs ?? 86_400_000;
    return {
      outcome: result.outcome,
      text: blocked ? result.reason ?? "unknown" : result.text,
      fetchedAt,
      expiresAt: fetchedAt + lifetime,
    };
  }
}
