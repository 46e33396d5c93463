/**
 * @module
 * A task's options, resolved from the config or an API spec over its rule set's defaults.
 */

/** `eventCount` events per `eventDur` seconds with bursts of `bucket` (one `Limits` entry). */
export interface LimitOptions {
  eventCount: number;
  eventDur: number;
  bucket: number;
}

export interface TaskOptions {
  /** The task's unique name (also its results table). */
  name: string;
  /** The base URL the rule set's root starts from. */
  url: string;
  cookie?: string;
  /** Random wait before each fetch, in [0, waitTime) seconds. */
  waitTime: number;
  /** Fetch URLs again even if already visited. */
  reload: boolean;
  maxDepth: number;
  /** All must allow a fetch; empty means no limit. */
  limits: LimitOptions[];
}
