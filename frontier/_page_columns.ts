/**
 * @module
 * The columns a revisited page keeps in the SQL frontiers (docs/frontier.md, "Recrawl"), and the
 * {@linkcode PageRecord} they hold.
 */
import type { PageRecord } from "./frontier.ts";

/** The page columns of `frontier_urls`, in the order claims return them. */
export const PAGE_COLUMNS = ["fetched_at", "etag", "modified", "hash", "interval_ms"] as const;

/** A revisited page's columns as stored (null when never fetched for a recrawl). */
export interface PageColumns {
  fetched_at: number | string | null;
  etag: string | null;
  modified: string | null;
  hash: string | null;
  interval_ms: number | string | null;
}

/** The page record of a row, if it has one (Postgres hands BIGINT columns back as strings). */
export function pageRecordOf(row: PageColumns): PageRecord | undefined {
  if (row.fetched_at === null) return undefined;
  const page: PageRecord = {
    fetchedAt: Number(row.fetched_at),
    intervalMs: Number(row.interval_ms ?? 0),
  };
  if (row.etag !== null) page.etag = row.etag;
  if (row.modified !== null) page.lastModified = row.modified;
  if (row.hash !== null) page.hash = row.hash;
  return page;
}
