/**
 * @module
 * The rules of one host's robots.txt, as the crawl asks them: may this URL be fetched, and
 * what Crawl-delay applies. Parsing and matching are npm `robots-parser` (RFC 9309: the product
 * token's group else `*`, groups of one agent merged, `*` and `$` patterns, the longest match
 * wins and Allow wins a tie); this wraps what it leaves to the caller: the "allow all" and
 * "disallow all" outcomes of a failed fetch, the product token, `/robots.txt` itself, and the
 * Crawl-delay cap.
 */
import robotsParserModule from "robots-parser";

/** Crawl-delay above this is taken as this (a site asking for minutes per page stalls a crawl). */
export const MAX_CRAWL_DELAY_MS = 30_000;

/** How a host's robots.txt turned out; a stored record keeps this and the text. */
export type RobotsOutcome =
  /** 2xx: the text's rules apply. */
  | "parsed"
  /** 4xx (RFC 9309 §2.3.1.3: "unavailable"): everything may be crawled. */
  | "allow-all"
  /** 5xx or unreachable (RFC 9309 §2.3.1.4): nothing may be crawled until a fetch succeeds. */
  | "disallow-all";

/** The part of robots-parser's parsed file this uses (its bundled typings do not type-check). */
interface Robot {
  isAllowed(url: string, ua?: string): boolean | undefined;
  getCrawlDelay(ua?: string): number | undefined;
}
const robotsParser = robotsParserModule as unknown as (url: string, text: string) => Robot;

/** The rules of one host (scheme, host and port). */
export class RobotsRules {
  readonly #robot: Robot | undefined;

  /** Why robots.txt could not be read, for "disallow-all" ("" otherwise). */
  readonly reason: string;

  private constructor(readonly outcome: RobotsOutcome, robot?: Robot, reason = "") {
    this.#robot = robot;
    this.reason = reason;
  }

  /** Rules that allow everything (no robots.txt, or robots checks turned off). */
  static allowAll(): RobotsRules {
    return new RobotsRules("allow-all");
  }

  /** Rules that allow nothing: robots.txt could not be fetched, for `reason`. */
  static disallowAll(reason = "robots.txt unavailable"): RobotsRules {
    return new RobotsRules("disallow-all", undefined, reason);
  }

  /**
   * Parses the robots.txt of `origin` (`scheme://host:port`, see `hostKey`). A text that is not
   * robots.txt at all (an HTML page) has no rules, so it allows everything, as RFC 9309 asks.
   */
  static parse(origin: string, text: string): RobotsRules {
    return new RobotsRules("parsed", robotsParser(`${origin}/robots.txt`, text));
  }

  /** Rules for a stored outcome and text (for "disallow-all", the text is the reason). */
  static from(outcome: RobotsOutcome, origin: string, text: string): RobotsRules {
    if (outcome === "parsed") return RobotsRules.parse(origin, text);
    return outcome === "allow-all"
      ? RobotsRules.allowAll()
      : RobotsRules.disallowAll(text || undefined);
  }

  /**
   * Whether `url` (on this rules' host) may be fetched by the agent whose product token is
   * `token` (see `productToken`). `/robots.txt` itself is always allowed (RFC 9309 §2.2.2).
   */
  isAllowed(url: string, token: string): boolean {
    if (this.outcome !== "parsed") return this.outcome === "allow-all";
    if (new URL(url).pathname === "/robots.txt") return true;
    const allowed = this.#robot!.isAllowed(url, token || "*");
    if (allowed === undefined) throw new RangeError(`${url} is not on this robots.txt's host`);
    return allowed;
  }

  /** The Crawl-delay of the agent's group (else `*`'s), in ms, capped at 30 s; 0 when none. */
  crawlDelayMs(token: string): number {
    const seconds = this.#robot?.getCrawlDelay(token || "*");
    if (seconds === undefined || !Number.isFinite(seconds) || seconds <= 0) return 0;
    return Math.min(MAX_CRAWL_DELAY_MS, Math.round(seconds * 1000));
  }
}
