/**
 * @module
 * A crawl request: one URL to fetch and the rule that parses what comes back. It lives with
 * the frontier, the queue that stores it; the engine (`spider/`) imports it from here.
 */

/** One request of a task. Children are made with `ParseContext.follow`. */
export interface CrawlRequest {
  url: string;
  /** HTTP method; "GET" unless a rule says otherwise. */
  method: string;
  /** Distance from a root request; roots are 0. Requests deeper than `maxDepth` are dropped. */
  depth: number;
  /** Requests with priority > 0 are fetched before the others. */
  priority: number;
  /** The rule of the task's rule tree that parses the response. */
  ruleName: string;
  /** Data handed from the rule that made this request to the rule that parses it. */
  tmp?: Record<string, unknown>;
  /** Failed fetches of this request so far (the frontier counts them; it gives up past `retries`). */
  attempt: number;
}

/** What a rule set's root or a rule asks for; the engine fills in the rest. */
export type RequestInit = Pick<CrawlRequest, "url" | "ruleName"> & Partial<CrawlRequest>;

/** Completes a request description with the engine's defaults. */
export function toRequest(init: RequestInit): CrawlRequest {
  return {
    url: init.url,
    method: init.method ?? "GET",
    depth: init.depth ?? 0,
    priority: init.priority ?? 0,
    ruleName: init.ruleName,
    tmp: init.tmp,
    attempt: init.attempt ?? 0,
  };
}
