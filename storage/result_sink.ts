/**
 * @module
 * The results sink contract (docs/operating.md, "Results"): what the engine saves items into, and
 * what every backend (SQLite, Postgres) promises about them.
 */
import type { ItemSink } from "../spider/crawler.ts";
import type { Item } from "../spider/item.ts";

/** One saved item with the fields its rule declares (a column each). */
export interface SinkEntry {
  item: Item;
  fields: readonly string[];
}

/** Options for {@linkcode ResultSink.flush}. */
export interface FlushOptions {
  /**
   * Stops waiting: the flush rejects with the signal's reason. The items stay buffered and are
   * stored when the database takes them (a task being stopped need not wait for its ack).
   */
  signal?: AbortSignal;
}

/** Options for {@linkcode ResultSink.close}. */
export interface CloseSinkOptions {
  /**
   * Gives up on items the database has not taken yet (it is unreachable): they are dropped with
   * an error log and pending `flush()` calls reject with {@linkcode SinkClosedError}. Without
   * it, `close` waits until every item is stored.
   */
  signal?: AbortSignal;
}

/**
 * A results sink. Every backend keeps these promises (checked by `sink_contract_test.ts`):
 *
 * - A table per task, named after it; a column per item field, plus `id` (assigned by the
 *   database), `item_key` (unique), `rule`, `url` and `time`. Columns are added as new fields
 *   appear; a table made by an older version gets `item_key` added.
 * - Items are upserted on (task, `item.key`): saving an item again replaces its row.
 * - `save` buffers; the buffer is written when a batch fills, on a timer, at `flush()` and at
 *   `close()`.
 * - `flush()` resolves once every item saved before it is stored (the engine acknowledges a
 *   page only then). While the database is unavailable (locked, down, restarting) it waits and
 *   retries; nothing saved is dropped, except an item the database refuses outright (logged).
 * - `retire(task, url, keep)` deletes the rows of the task's table whose `url` is `url` and whose
 *   `item_key` is not in `keep` (rows without a key included): a revisited page's items it no
 *   longer outputs. It is buffered and written in order with the saves around it, in the same
 *   transactions: it sees the saves before it and never deletes a save after it, and `flush()`
 *   waits for it too. The rows kept are not rewritten (their `time` stays). A task without a
 *   table has nothing to delete. A retire is no item: it counts neither as stored nor as
 *   rejected; one the database refuses outright is logged and dropped.
 */
export interface ResultSink extends ItemSink {
  save(item: Item, fields: readonly string[]): void;
  retire(task: string, url: string, keep: readonly string[]): void;
  flush(options?: FlushOptions): Promise<void>;
  /** Stores what is buffered and releases the database. Safe to call twice. */
  close(options?: CloseSinkOptions): Promise<void>;
  /** Items stored so far. */
  readonly stored: number;
  /** Items saved but not stored yet. */
  readonly buffered: number;
  /** Items the database refused outright (logged one by one), so never stored. */
  readonly rejected: number;
}

/** What a pending `flush()` rejects with when `close` gave up on the items it waited for. */
export class SinkClosedError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SinkClosedError";
  }
}
