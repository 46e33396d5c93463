/**
 * @module
 * Counts a crawl's final failures by reason, for the summary at the end of a standalone run.
 * It listens to the engine's log records ("fetch failed", "request failed", ...): they are the
 * one place every final failure is reported, and a retry that later succeeds is not among them.
 */
import type { LogFields, Logger } from "../log/logger.ts";
import { FetchError } from "../spider/fetcher.ts";

/** The engine's log messages that mean "this request failed for good". */
const FINAL_FAILURES = new Set([
  "fetch failed",
  "request failed",
  "no such rule",
  "task root failed",
]);

/** Final failures of a run, counted by reason (`HTTP 404`, `timeout`, `network error`...). */
export class FailureTally {
  readonly #byReason = new Map<string, number>();

  /** Counts one failure. */
  add(reason: string): void {
    this.#byReason.set(reason, (this.#byReason.get(reason) ?? 0) + 1);
  }

  /** Every reason with its count, most frequent first. */
  entries(): Array<[reason: string, count: number]> {
    return [...this.#byReason].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  }

  /** The total count. */
  get total(): number {
    let total = 0;
    for (const count of this.#byReason.values()) total += count;
    return total;
  }

  /**
   * A logger that passes every record on to `logger` and counts the final failures among them.
   * `beforeWrite` runs before an INFO, WARN or ERROR record is passed on (the progress line
   * clears itself so the record gets a line of its own; DEBUG records are left out, or at the
   * default level the line would flicker for records that are dropped anyway).
   */
  tap(logger: Logger, beforeWrite?: () => void): Logger {
    const wrap = (inner: Logger): Logger => {
      const counted = (level: "info" | "warn" | "error") => (msg: string, fields?: LogFields) => {
        if (level !== "info" && FINAL_FAILURES.has(msg)) {
          this.add(failureReason(msg, fields?.error));
        }
        beforeWrite?.();
        inner[level](msg, fields);
      };
      return {
        debug: (msg, fields) => inner.debug(msg, fields),
        info: counted("info"),
        warn: counted("warn"),
        error: counted("error"),
        child: (name) => wrap(inner.child(name)),
      };
    };
    return wrap(logger);
  }
}

/** A short, bounded reason for a failure: what a person would group failures by. */
export function failureReason(msg: string, error: unknown): string {
  if (msg === "no such rule") return "no such rule";
  if (msg === "task root failed") return "task root failed";
  if (error instanceof FetchError) {
    const text = error.message;
    if (/ timed out /.test(text)) return "timeout";
    if (/^render timeout/.test(text)) return "render timeout";
    if (/^the browser went away/.test(text)) return "browser crashed";
    if (/ is larger than /.test(text)) return "body too large";
    if (/^(invalid URL|unsupported URL scheme|refused to render)/.test(text)) return "bad URL";
    if (error.status !== undefined) return `HTTP ${error.status}`;
    return "network error";
  }
  if (msg === "request failed") return "parse error";
  return msg;
}

/** `failures: 5 (HTTP 404: 3, timeout: 2)`, or undefined when nothing failed. */
export function failureSummaryLine(tally: FailureTally): string | undefined {
  if (tally.total === 0) return undefined;
  const parts = tally.entries().map(([reason, count]) => `${reason}: ${count}`);
  return `failures: ${tally.total} (${parts.join(", ")})`;
}
