/**
 * @module
 * The buffering, batching and retrying every results sink shares; a backend supplies only a
 * {@linkcode BatchWriter} that stores one batch in one transaction.
 */
import { backoffMs } from "../async/backoff.ts";
import { delay } from "../async/delay.ts";
import type { Logger } from "../log/logger.ts";
import { logWaiting } from "../errors/mod.ts";
import type { Item } from "../spider/item.ts";
import {
  type CloseSinkOptions,
  type FlushOptions,
  type ResultSink,
  SinkClosedError,
  type SinkEntry,
} from "./result_sink.ts";

/** A page's rows to delete (`ResultSink.retire`): those of `url` whose key is not in `keep`. */
export interface RetireEntry {
  task: string;
  url: string;
  keep: readonly string[];
}

/** One entry of a batch: an item to upsert, or a page's rows to retire. */
export type BatchEntry = SinkEntry | RetireEntry;

/** True if `entry` is a retire rather than an item. */
export function isRetire(entry: BatchEntry): entry is RetireEntry {
  return "keep" in entry;
}

/** Stores batches for a {@linkcode BatchingSink}. */
export interface BatchWriter {
  /**
   * Stores `batch` in one transaction, all or nothing, applying its entries in order: upserting
   * each item on (task, key), deleting each retired page's rows not kept (none if its table
   * does not exist).
   */
  write(batch: readonly BatchEntry[]): Promise<void>;
  /** True if `error` may pass by itself (database locked, server away): write again later. */
  retriable(error: unknown): boolean;
  /** Releases the database; pending writes fail. */
  close(): Promise<void>;
}

/** Options of every sink. */
export interface BatchingSinkOptions {
  logger: Logger;
  /** Items per write; a full batch is written at once. Default 100. */
  batchSize?: number;
  /** Longest an item waits in the buffer, ms. Default 1000. */
  flushIntervalMs?: number;
  /**
   * First wait before writing again after a retriable failure, ms; doubles, jittered (sinks of
   * many workers that lost one database do not write again together). Default 100.
   */
  retryDelayMs?: number;
  /** Longest wait between two attempts, ms. Default 1000. */
  maxRetryDelayMs?: number;
}

interface Waiter {
  /** Resolved once this many entries are done (stored or refused). */
  target: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

/** A {@linkcode ResultSink} over a {@linkcode BatchWriter}. */
export class BatchingSink implements ResultSink {
  readonly #writer: BatchWriter;
  readonly #logger: Logger;
  readonly #batchSize: number;
  readonly #flushIntervalMs: number;
  readonly #retryDelayMs: number;
  readonly #maxRetryDelayMs: number;
  /** Saved or retired and not done yet, in that order; the loop writes from the front. */
  #buffer: BatchEntry[] = [];
  /** Entries (items and retires) handed over so far… */
  #saved = 0;
  /** …and written or refused so far. */
  #done = 0;
  /** Retires in `#buffer` (the rest are items). */
  #retires = 0;
  #stored = 0;
  #rejected = 0;
  #waiters: Waiter[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** The running write loop (or the last one); `#writing` while it runs. */
  #loop: Promise<void> | undefined;
  #writing = false;
  /** Entries up to this count must be written now (a flush, the timer, close). */
  #due = 0;
  #closing = false;
  #closed: Promise<void> | undefined;
  /** Aborted when `close` gives up: stops retry waits. */
  readonly #giveUp = new AbortController();

  constructor(writer: BatchWriter, options: BatchingSinkOptions) {
    this.#writer = writer;
    this.#logger = options.logger;
    this.#batchSize = options.batchSize ?? 100;
    this.#flushIntervalMs = options.flushIntervalMs ?? 1000;
    this.#retryDelayMs = options.retryDelayMs ?? 100;
    this.#maxRetryDelayMs = options.maxRetryDelayMs ?? 1000;
  }

  get stored(): number {
    return this.#stored;
  }

  get buffered(): number {
    return this.#saved - this.#done - this.#retires;
  }

  get rejected(): number {
    return this.#rejected;
  }

  save(item: Item, fields: readonly string[]): void {
    this.#push({ item, fields });
  }

  retire(task: string, url: string, keep: readonly string[]): void {
    this.#push({ task, url, keep });
  }

  #push(entry: BatchEntry): void {
    if (this.#closing) throw new Error("sink is closed");
    this.#buffer.push(entry);
    this.#saved++;
    if (isRetire(entry)) this.#retires++;
    if (this.#buffer.length >= this.#batchSize) this.#kick();
    else this.#timer ??= setTimeout(() => this.#writeDue(), this.#flushIntervalMs);
  }

  flush(options: FlushOptions = {}): Promise<void> {
    if (this.#done >= this.#saved) return Promise.resolve();
    if (this.#giveUp.signal.aborted) {
      return Promise.reject(new SinkClosedError("the sink was closed before storing these items"));
    }
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const promise = new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { target: this.#saved, resolve, reject };
      if (signal) {
        // Stop waiting, not storing: the items stay buffered and are written when they can be.
        const onAbort = () => {
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
          reject(signal.reason);
        };
        signal.addEventListener("abort", onAbort, { once: true });
        waiter.resolve = () => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        };
        waiter.reject = (error) => {
          signal.removeEventListener("abort", onAbort);
          reject(error);
        };
      }
      this.#waiters.push(waiter);
    });
    this.#writeDue();
    return promise;
  }

  close(options: CloseSinkOptions = {}): Promise<void> {
    return this.#closed ??= this.#close(options.signal);
  }

  async #close(signal: AbortSignal | undefined): Promise<void> {
    this.#closing = true;
    const drained = this.flush();
    if (signal) {
      const onAbort = () => this.#abandon();
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
      try {
        await drained.catch(() => {});
      } finally {
        signal.removeEventListener("abort", onAbort);
      }
    } else {
      await drained;
    }
    await this.#loop;
    clearTimeout(this.#timer);
    await this.#writer.close();
  }

  /** Stops waiting for the database: what is left is dropped, loudly. */
  #abandon(): void {
    if (this.#giveUp.signal.aborted) return;
    this.#giveUp.abort(new SinkClosedError("the sink was closed before storing these items"));
    if (this.#saved > this.#done) {
      this.#logger.error("closing without storing items: the results database is unavailable", {
        items: this.buffered,
        ...(this.#retires > 0 ? { retires: this.#retires } : {}),
      });
    }
    // A write blocked on a dead connection fails once the writer is closed.
    this.#writer.close().catch((error) => this.#logger.error("closing the sink", { error }));
  }

  /** Marks everything saved so far as due (the timer fired, a flush) and writes it. */
  #writeDue(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#due = this.#saved;
    this.#kick();
  }

  /** Starts the write loop unless it runs (it sees new work before it stops). */
  #kick(): void {
    if (this.#writing) return;
    this.#writing = true;
    this.#loop = this.#drain();
  }

  /**
   * Writes batches while a full one waits or items are due, then arms the timer for what is
   * left. Stops early only when the sink gives up. Never rejects.
   */
  async #drain(): Promise<void> {
    const outage = { since: 0 };
    try {
      while (this.#buffer.length >= this.#batchSize || this.#done < this.#due) {
        const batch = this.#buffer.slice(0, this.#batchSize);
        await this.#store(batch, outage);
        this.#buffer = this.#buffer.slice(batch.length);
        this.#done += batch.length;
        this.#retires -= batch.filter(isRetire).length;
        this.#settle();
      }
      if (outage.since) {
        this.#logger.info("the results database is back; stored the items kept meanwhile", {
          downMs: Date.now() - outage.since,
        });
      }
    } catch (error) {
      // Only giving up ends the loop early: fail everyone still waiting.
      const reason = error instanceof Error ? error : new SinkClosedError(String(error));
      for (const waiter of this.#waiters) waiter.reject(reason);
      this.#waiters = [];
      return;
    } finally {
      // Set in the same turn as the loop's last check: a save after it starts a new loop.
      this.#writing = false;
    }
    if (this.#buffer.length > 0) {
      this.#timer ??= setTimeout(() => this.#writeDue(), this.#flushIntervalMs);
    }
  }

  /**
   * Stores `batch`, retrying while the database is unavailable. An item the database refuses
   * outright is found by writing the batch entry by entry, logged and counted as rejected, so one
   * bad item does not hold up the others (a refused retire likewise, but not counted). Rejects
   * only when the sink gives up.
   */
  async #store(batch: readonly BatchEntry[], outage: { since: number }): Promise<void> {
    for (let attempt = 0;; attempt++) {
      this.#giveUp.signal.throwIfAborted();
      try {
        await this.#writer.write(batch);
        this.#stored += batch.filter((entry) => !isRetire(entry)).length;
        return;
      } catch (error) {
        this.#giveUp.signal.throwIfAborted();
        if (!this.#writer.retriable(error)) {
          if (batch.length > 1) {
            for (const entry of batch) await this.#store([entry], outage);
            return;
          }
          const entry = batch[0];
          if (isRetire(entry)) {
            this.#logger.error(
              "the results database refused to delete a page's old rows; they are kept",
              { task: entry.task, url: entry.url, keep: entry.keep.length, error },
            );
            return;
          }
          const { item } = entry;
          this.#rejected++;
          this.#logger.error("the results database refused an item; it is not stored", {
            task: item.task,
            url: item.url,
            key: item.key,
            error,
          });
          return;
        }
        if (!outage.since) {
          outage.since = Date.now();
          logWaiting(
            this.#logger,
            "the results database is unavailable; keeping items and retrying",
            {
              items: this.buffered,
              error,
            },
          );
        }
        const wait = backoffMs(attempt, {
          initialMs: this.#retryDelayMs,
          maxMs: this.#maxRetryDelayMs,
        });
        await delay(wait, { signal: this.#giveUp.signal });
      }
    }
  }

  #settle(): void {
    const done = this.#done;
    this.#waiters = this.#waiters.filter((waiter) => {
      if (waiter.target > done) return true;
      waiter.resolve();
      return false;
    });
  }
}
