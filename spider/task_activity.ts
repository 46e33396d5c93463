/**
 * @module
 * What a task run has been doing, beyond its counters: the last errors with their URLs and the
 * hosts it fetches from most. Bounded by design (a ring of errors, a capped host table), so a
 * long crawl of many hosts does not grow it.
 */

/** One failure of a request, as the dashboard shows it. */
export interface TaskError {
  url: string;
  /** The error's message. */
  error: string;
  /** Milliseconds since the epoch. */
  at: number;
}

/** Fetch counters of one host. */
export interface HostActivity {
  host: string;
  fetched: number;
  failed: number;
}

/** A copy of a run's activity. */
export interface TaskActivitySnapshot {
  /** The last errors, newest first. */
  errors: TaskError[];
  /** The busiest hosts (most fetched + failed first). */
  hosts: HostActivity[];
}

/** Options for {@linkcode TaskActivity}. */
export interface TaskActivityOptions {
  /** How many errors are kept. Default 20. */
  maxErrors?: number;
  /**
   * How many hosts are counted one by one; fetches from further hosts are counted under
   * `"(other hosts)"`. Default 1000.
   */
  maxHosts?: number;
  /** Milliseconds since the epoch. Default `Date.now`. */
  clock?: () => number;
}

/** The name the hosts past the cap are counted under. */
export const OTHER_HOSTS = "(other hosts)";

/** Records a run's errors and per-host fetches. */
export class TaskActivity {
  readonly #errors: TaskError[] = [];
  readonly #hosts = new Map<string, HostActivity>();
  readonly #maxErrors: number;
  readonly #maxHosts: number;
  readonly #clock: () => number;

  constructor(options: TaskActivityOptions = {}) {
    this.#maxErrors = options.maxErrors ?? 20;
    this.#maxHosts = options.maxHosts ?? 1000;
    this.#clock = options.clock ?? Date.now;
  }

  /** A page of `url` was fetched. */
  fetched(url: string): void {
    this.#host(url).fetched++;
  }

  /** A request for `url` failed for good (after its retries), or its page could not be parsed. */
  failed(url: string, error: unknown): void {
    this.#host(url).failed++;
    this.#errors.push({ url, error: messageOf(error), at: this.#clock() });
    if (this.#errors.length > this.#maxErrors) this.#errors.shift();
  }

  /** The last errors (newest first) and the `topHosts` busiest hosts (default 10). */
  snapshot(topHosts = 10): TaskActivitySnapshot {
    const hosts = [...this.#hosts.values()]
      .sort((a, b) => b.fetched + b.failed - (a.fetched + a.failed) || cmp(a.host, b.host))
      .slice(0, topHosts)
      .map((h) => ({ ...h }));
    return { errors: [...this.#errors].reverse(), hosts };
  }

  #host(url: string): HostActivity {
    let host: string;
    try {
      host = new URL(url).host;
    } catch {
      host = OTHER_HOSTS;
    }
    let entry = this.#hosts.get(host);
    if (!entry) {
      if (this.#hosts.size >= this.#maxHosts) host = OTHER_HOSTS;
      entry = this.#hosts.get(host) ?? { host, fetched: 0, failed: 0 };
      this.#hosts.set(host, entry);
    }
    return entry;
  }
}

function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
