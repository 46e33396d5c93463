/**
 * @module
 * One task run's view of the hosts it crawls: its own requests, 429/503s and disallowed URLs
 * per host, with the delay and block the shared schedule last reported. Bounded: past
 * `maxHosts` hosts, new ones are counted under `"(other)"`.
 */
import type { HostSnapshot } from "./host_store.ts";

/** A host's line in a task's status (`inFlight` left out: the run's own gauge says it). */
export type HostCounts = Omit<HostSnapshot, "inFlight">;

const OTHER = "(other)";

/** Per-host counters of one task run. */
export class HostCounters {
  readonly #hosts = new Map<string, HostCounts>();
  readonly #maxHosts: number;

  /** Tracks up to `maxHosts` hosts one by one (default 1000). */
  constructor(maxHosts = 1000) {
    this.#maxHosts = maxHosts;
  }

  /** A request to `host` was started. */
  requested(host: string): void {
    this.#get(host).requests++;
  }

  /** A URL of `host` was not fetched: robots.txt disallows it. */
  disallowed(host: string): void {
    this.#get(host).disallowed++;
  }

  /** The host's state after a fetch; `throttled` when it answered 429/503. */
  observed(snapshot: HostSnapshot, throttled: boolean): void {
    const counts = this.#get(snapshot.host);
    if (throttled) counts.throttled++;
    counts.delayMs = snapshot.delayMs;
    counts.blockedUntil = snapshot.blockedUntil;
  }

  /** The hosts, most requested first; `limit` of them (default all). */
  list(limit = Infinity): HostCounts[] {
    return [...this.#hosts.values()]
      .sort((a, b) => b.requests - a.requests || (a.host < b.host ? -1 : 1))
      .slice(0, limit)
      .map((counts) => ({ ...counts }));
  }

  #get(host: string): HostCounts {
    let counts = this.#hosts.get(host);
    if (!counts) {
      const key = this.#hosts.size < this.#maxHosts ? host : OTHER;
      counts = this.#hosts.get(key);
      if (!counts) {
        counts = {
          host: key,
          requests: 0,
          throttled: 0,
          disallowed: 0,
          delayMs: 0,
          blockedUntil: 0,
        };
        this.#hosts.set(key, counts);
      }
    }
    return counts;
  }
}
