/**
 * @module
 * The results table layout both backends share: a table per task, a column per item field plus
 * the fixed columns, and how an item's values become column values.
 */
import type { SinkEntry } from "./result_sink.ts";

/** The unique column items are upserted on (an `Item`'s `key`). */
export const KEY_COLUMN = "item_key";

/** Columns every results table has; an item field of the same name is not stored. */
export const FIXED_COLUMNS: ReadonlySet<string> = new Set([
  "id",
  KEY_COLUMN,
  "rule",
  "url",
  "time",
]);

/** The field columns of an entry: its rule's fields, less the fixed columns. */
export function fieldColumns(entry: SinkEntry): string[] {
  return entry.fields.filter((f) => !FIXED_COLUMNS.has(f.toLowerCase()));
}

/** `identifier` quoted for SQL (both SQLite and Postgres). */
export function quote(identifier: string): string {
  return `"${identifier.replaceAll('"', '""')}"`;
}

/**
 * The last entry of each (task, key) in `batch`, in batch order: saving an item twice before a
 * write stores its later version (and Postgres refuses one statement touching a row twice).
 */
export function lastPerKey(batch: readonly SinkEntry[]): SinkEntry[] {
  const last = new Map<string, number>();
  batch.forEach((entry, i) => last.set(JSON.stringify([entry.item.task, entry.item.key]), i));
  if (last.size === batch.length) return [...batch];
  return batch.filter((entry, i) =>
    last.get(JSON.stringify([entry.item.task, entry.item.key])) === i
  );
}
