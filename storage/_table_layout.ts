/**
 * @module
 * The results table layout both backends share: a table per task, a column per item field plus
 * the fixed columns, and how an item's values become column values.
 */
import type { SinkEntry } from "./result_sink.ts";
import { type BatchEntry, isRetire, type RetireEntry } from "./_batching_sink.ts";

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

/** The name of the index on a results table's `url` column, made when its rows are first retired. */
export function urlIndexName(table: string): string {
  // A space: no resource name has one, so the index never takes the name of a task's table.
  return `${table} url`;
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

/** What a writer does in turn for a batch: upsert a run of items, or retire a page's rows. */
export type WriteStep = { saves: SinkEntry[] } | { retire: RetireEntry };

/**
 * `batch` as steps to apply in order: each run of items between two retires, through
 * {@linkcode lastPerKey}, and each retire. Runs are not merged across a retire, so a retire
 * sees the items saved before it and never deletes one saved after it.
 */
export function writeSteps(batch: readonly BatchEntry[]): WriteStep[] {
  const steps: WriteStep[] = [];
  let run: SinkEntry[] = [];
  for (const entry of batch) {
    if (!isRetire(entry)) {
      run.push(entry);
      continue;
    }
    if (run.length > 0) steps.push({ saves: lastPerKey(run) });
    run = [];
    steps.push({ retire: entry });
  }
  if (run.length > 0) steps.push({ saves: lastPerKey(run) });
  return steps;
}
