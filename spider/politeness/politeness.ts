/**
 * @module
 * The gate every fetch passes: robots.txt first, then the host's schedule in the shared host
 * store. It answers at once — go (with a permit to release), not yet (and when to ask again),
 * or never (disallowed) — so the caller never waits holding a fetch slot.
 */
import type { ClaimResult, HostLimits, HostOutcome } from "./host_state.ts";
import type { HostSnapshot, HostStore } from "./host_store.ts";
import { hostKey } from "../../frontier/host_key.ts";
import type { RobotsCache } from "./robots_cache.ts";
import { productToken } from "./user_agent_token.ts";

/** A task's politeness settings (config `Robots`/`Politeness`, API `robots`/`politeness`). */
export interface TaskPoliteness {
  /** Obey robots.txt (and its Crawl-delay). Default true. */
  robots: boolean;
  /** Minimum ms between requests to one host. Default 0. */
  delayMs: number;
  /** Most requests in flight to one host. Default 8. */
  perHostConcurrency: number;
}

/** The defaults of {@linkcode TaskPoliteness}: polite without configuration. */
export const DEFAULT_TASK_POLITENESS: Readonly<TaskPoliteness> = {
  robots: true,
  delayMs: 0,
  perHostConcurrency: 8,
};

/** A granted fetch; `release` must be called once the response (or error) is in. */
export interface HostPermit {
  readonly host: string;
  /** The delay in force for the host, ms (the task's, or its robots.txt Crawl-delay). */
  readonly delayMs: number;
  /**
   * Gives the slot back; answers the host's state after it (`undefined` if already released).
   * A release that failed may be called again.
   */
  release(outcome: HostOutcome): Promise<HostSnapshot | undefined>;
}

/** The gate's answer for one URL. */
export type Admission =
  | { kind: "go"; permit: HostPermit }
  /** Not due (delay, Retry-After) or at its concurrency limit: ask again in `waitMs`. */
  | { kind: "later"; host: string; waitMs: number }
  | { kind: "disallowed"; host: string }
  /**
   * The host's robots.txt could not be read (5xx, 429, no answer): nothing of the host may be
   * fetched until it can (RFC 9309 §2.3.1.4). A failure of the host, not a rule: `reason` says why.
   */
  | { kind: "unavailable"; host: string; reason: string };

/** Options for {@linkcode Politeness}. */
export interface PolitenessOptions {
  /** The User-Agent whose product token robots.txt groups are matched against. */
  userAgent: string;
  /** A host at its concurrency limit is asked again this soon, ms. Default 100. */
  busyRetryMs?: number;
}

/**
 * robots.txt and the per-host schedule for every task of a worker, over a shared host store:
 * the engine asks it before each fetch (`admit`) and gives the host's slot back with what the
 * fetch met. It holds no timers or connections of its own: the worker wiring
 * (`worker/engine_deps.ts`) makes one per process and closes the host store it is given.
 *
 * @example
 * ```ts
 * const politeness = new Politeness(hosts, new RobotsCache(hosts, { userAgent }), { userAgent });
 * const admission = await politeness.admit(url, DEFAULT_TASK_POLITENESS, signal);
 * if (admission.kind === "go") await admission.permit.release({ kind: "ok" });
 * ```
 */
export class Politeness {
  readonly #store: HostStore;
  readonly #robots: RobotsCache;
  readonly #token: string;
  readonly #busyRetryMs: number;

  constructor(store: HostStore, robots: RobotsCache, options: PolitenessOptions) {
    this.#store = store;
    this.#robots = robots;
    this.#token = productToken(options.userAgent);
    this.#busyRetryMs = options.busyRetryMs ?? 100;
  }

  /**
   * Decides whether `url` may be fetched now for a task with `settings`. A disallowed URL is
   * counted on its host. A URL that does not parse goes ahead (the fetch fails it for good).
   */
  async admit(url: string, settings: TaskPoliteness, signal?: AbortSignal): Promise<Admission> {
    let host: string;
    try {
      host = hostKey(url);
    } catch {
      return {
        kind: "go",
        permit: { host: "", delayMs: 0, release: () => Promise.resolve(undefined) },
      };
    }
    let crawlDelayMs = 0;
    if (settings.robots) {
      const rules = await this.#robots.rules(host, signal);
      if (rules.outcome === "disallow-all") {
        return { kind: "unavailable", host, reason: `robots.txt of ${host}: ${rules.reason}` };
      }
      if (!rules.isAllowed(url, this.#token)) {
        await this.#store.addDisallowed(host, 1);
        return { kind: "disallowed", host };
      }
      crawlDelayMs = rules.crawlDelayMs(this.#token);
    }
    const limits: HostLimits = {
      delayMs: Math.max(settings.delayMs, crawlDelayMs),
      concurrency: settings.perHostConcurrency,
    };
    const claim: ClaimResult = await this.#store.claim(host, limits);
    if (!claim.granted) {
      const waitMs = claim.reason === "busy"
        ? Math.min(claim.waitMs, this.#busyRetryMs)
        : claim.waitMs;
      return { kind: "later", host, waitMs: Math.max(0, waitMs) };
    }
    const store = this.#store;
    let released = false;
    return {
      kind: "go",
      permit: {
        host,
        delayMs: limits.delayMs,
        release(outcome: HostOutcome): Promise<HostSnapshot | undefined> {
          if (released) return Promise.resolve(undefined);
          released = true;
          // A release that failed (the store away) may be tried again.
          return store.release(host, claim.slot.id, outcome, limits).catch((error) => {
            released = false;
            throw error;
          });
        },
      },
    };
  }

  /** Per-host counters and schedule (all hosts, or those given). */
  hosts(hosts?: readonly string[]): Promise<HostSnapshot[]> {
    return this.#store.snapshot(hosts);
  }
}
