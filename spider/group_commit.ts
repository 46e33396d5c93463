/**
 * @module
 * Group commit of the engine's acknowledgements: outcomes are gathered for a few milliseconds and
 * committed together — first the results sink is flushed, then the frontier records the whole
 * batch in one transaction. So the items of an acknowledged page are stored no later than its
 * acknowledgement is durable (a crash in between fetches the page again, and the sink's upsert
 * keeps one row), and the frontier sees one write per batch instead of one per page.
 */
import type { Logger } from "../log/logger.ts";
import type { Frontier, Outcome } from "../frontier/frontier.ts";
import { backoffMs } from "../async/backoff.ts";
import { delay } from "../async/delay.ts";
import { logWaiting } from "../errors/mod.ts";

/** What group commit flushes before acknowledging pages (the engine's `ItemSink`). */
export interface Flushable {
  /** Resolves when everything saved so far is stored. */
  flush(): Promise<void>;
}

/** Options for {@linkcode GroupCommit}. */
export interface GroupCommitOptions {
  /** Where the acknowledgements are recorded. */
  frontier: Frontier;
  /** Flushed before each batch is acknowledged. */
  sink: Flushable;
  /** Where outages of the sink or the frontier are logged (once each). */
  logger: Logger;
  /** How long an outcome may wait for others before its batch commits, ms. Default 50. */
  maxDelayMs?: number;
  /** Outcomes that commit at once without waiting. Default 256. */
  maxBatch?: number;
  /**
   * Wait before trying a failed commit again, ms, doubling up to `maxRetryDelayMs`, jittered.
   * Default 250.
   */
  retryDelayMs?: number;
  /**
   * Longest wait between two tries, ms. Default 1000: acknowledgements go through within about a
   * second of the frontier being back.
   */
  maxRetryDelayMs?: number;
}

interface Entry {
  outcome: Outcome;
  resolve: (counted: boolean) => void;
}

/**
 * Gathers the engine's acknowledgements and commits them in batches (see the module doc): the
 * sink first, then the frontier, retrying with backoff while either is away. The `Crawler`
 * owns one for its lifetime and ends it with `close()`, which commits what is waiting (giving
 * up after a few failed tries, so shutting down does not hang on a frontier that is gone).
 *
 * @example
 * ```ts
 * const commits = new GroupCommit({ frontier, sink, logger });
 * const counted = await commits.add({ kind: "done", claim, children: [] });
 * await commits.close();
 * ```
 */
export class GroupCommit {
  readonly #options: Required<GroupCommitOptions>;
  #waiting: Entry[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #committing: Promise<void> | undefined;
  #closed = false;
  /** Ids of claims whose outcome is waiting or committing (not to be released). */
  readonly outgoing = new Set<number>();

  /** A group commit with nothing waiting; see {@linkcode GroupCommitOptions} for defaults. */
  constructor(options: GroupCommitOptions) {
    this.#options = {
      maxDelayMs: 50,
      maxBatch: 256,
      retryDelayMs: 250,
      maxRetryDelayMs: 1000,
      ...options,
    };
  }

  /**
   * Queues an outcome; resolves when it is durable, with whether it counted (false: its claim
   * had been lost), or with false if the engine closed while the frontier was unreachable.
   */
  add(outcome: Outcome): Promise<boolean> {
    return new Promise((resolve) => {
      this.outgoing.add(outcome.claim.id);
      this.#waiting.push({ outcome, resolve });
      if (this.#waiting.length >= this.#options.maxBatch) this.hurry();
      else this.#timer ??= setTimeout(() => this.hurry(), this.#options.maxDelayMs);
    });
  }

  /** Commits what is waiting now, rather than after the delay. */
  hurry(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#committing || this.#waiting.length === 0) return;
    this.#committing = this.#commitLoop().finally(() => this.#committing = undefined);
  }

  /** Commits everything waiting and resolves when it is durable. */
  async flush(): Promise<void> {
    while (this.#waiting.length > 0 || this.#committing) {
      this.hurry();
      await this.#committing;
    }
  }

  /**
   * Commits what is waiting, trying a few times more if the frontier or sink fails, then stops
   * taking outcomes: the ones it could not commit are dropped and their pages will be fetched
   * again once their leases expire.
   */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
  }

  async #commitLoop(): Promise<void> {
    let failures = 0;
    /** When the current run of failures began (performance.now() ms). */
    let failingSince = 0;
    while (this.#waiting.length > 0) {
      const batch = this.#waiting.splice(0, this.#options.maxBatch);
      try {
        await this.#options.sink.flush();
        const counted = await this.#options.frontier.complete(batch.map((e) => e.outcome));
        for (const [i, entry] of batch.entries()) {
          this.outgoing.delete(entry.outcome.claim.id);
          entry.resolve(counted[i]);
        }
        if (failures > 0) {
          this.#options.logger.info("acknowledgements stored again", {
            pages: batch.length,
            waitedMs: Math.round(performance.now() - failingSince),
          });
        }
        failures = 0;
      } catch (error) {
        this.#waiting.unshift(...batch);
        if (failures === 0) failingSince = performance.now();
        failures++;
        if (this.#closed && failures >= 3) {
          this.#options.logger.error(
            "acknowledgements could not be stored; their pages will be fetched again",
            {
              pages: this.#waiting.length,
              error,
            },
          );
          for (const entry of this.#waiting.splice(0)) {
            this.outgoing.delete(entry.outcome.claim.id);
            entry.resolve(false);
          }
          return;
        }
        if (failures === 1) {
          // Once per run of failures (an outage): the retries that follow are not news.
          logWaiting(this.#options.logger, "storing results or acknowledgements failed; retrying", {
            pages: this.#waiting.length,
            error,
          });
        }
        await delay(backoffMs(failures - 1, {
          initialMs: this.#options.retryDelayMs,
          maxMs: this.#options.maxRetryDelayMs,
        }));
      }
    }
  }
}
