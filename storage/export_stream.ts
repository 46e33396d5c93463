/**
 * @module
 * A task's rows as a byte stream in JSONL or CSV, the one encoder behind `crawler export` and
 * the API's `/items` routes. The stream is pulled: a page is read from the database only when
 * the consumer (a file, a socket) has taken the previous one, so memory holds about one page
 * whatever the table's size, and a slow client slows the reads instead of filling a buffer.
 */
import { stringify } from "csv-stringify/sync";
import type { ResultRows, ResultValue } from "./result_reader.ts";

/** The formats an export is written in. */
export type ExportFormat = "jsonl" | "csv";

/** Every {@linkcode ExportFormat}, for flag and query checks. */
export const EXPORT_FORMATS: readonly ExportFormat[] = ["jsonl", "csv"];

/** The Content-Type each format is served with. */
export const EXPORT_CONTENT_TYPES: Readonly<Record<ExportFormat, string>> = {
  jsonl: "application/x-ndjson; charset=utf-8",
  csv: "text/csv; charset=utf-8; header=present",
};

/** Options for {@linkcode exportStream}. */
export interface ExportStreamOptions {
  /** Called after each page is encoded, with the rows written so far. */
  onProgress?: (rows: number) => void;
  /** Called with the error a read failed with, before the stream ends with it (to log it). */
  onError?: (error: unknown) => void;
}

/**
 * Encodes `rows` as `format`:
 *
 * - `jsonl`: one JSON object per row and line (`{"rule":…,"url":…,"time":…,…}\n`), a key per
 *   column in column order, `null` for an empty value.
 * - `csv`: RFC 4180 — a header row of the column names, then a record per row, CRLF line ends;
 *   a value holding a comma, a double quote, CR or LF is quoted, its quotes doubled; UTF-8, no
 *   byte order mark; an empty value is an empty field.
 *
 * A failure while reading ends the stream with that error (the consumer sees the export cut
 * short, never a silently truncated one); cancelling it stops the reads.
 *
 * @example
 * ```ts
 * const rows = await reader.rows("books");
 * await exportStream(rows, "csv").pipeTo((await Deno.create("books.csv")).writable);
 * ```
 */
export function exportStream(
  rows: ResultRows,
  format: ExportFormat,
  options: ExportStreamOptions = {},
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const encode = format === "csv" ? csvEncoder(rows.columns) : jsonlEncoder(rows.columns);
  let pages: AsyncIterator<ResultValue[][]> | undefined;
  let written = 0;
  let started = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        await pullPage(controller);
      } catch (error) {
        options.onError?.(error);
        await rows.cancel?.();
        throw error;
      }
    },
    async cancel() {
      // Release first: a page being read may wait on what the release stops.
      await rows.cancel?.();
      await pages?.return?.();
    },
  }, { highWaterMark: 0 });

  async function pullPage(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    if (!started) {
      started = true;
      const head = encode.head();
      if (head !== "") {
        controller.enqueue(encoder.encode(head));
        return;
      }
    }
    pages ??= rows.pages()[Symbol.asyncIterator]();
    // An empty page (a merge that skipped every row of it) enqueues nothing: read on.
    for (let spins = 0; spins < 1_000_000; spins++) {
      const page = await pages.next();
      if (page.done) {
        controller.close();
        return;
      }
      if (page.value.length === 0) continue;
      written += page.value.length;
      controller.enqueue(encoder.encode(encode.page(page.value)));
      options.onProgress?.(written);
      return;
    }
    throw new Error("the rows source yielded a million empty pages in a row");
  }
}

interface Encoder {
  /** What comes before the rows (the CSV header). */
  head(): string;
  page(rows: ResultValue[][]): string;
}

/** CSV in RFC 4180's shape (see {@linkcode exportStream}) through `csv-stringify`. */
function csvEncoder(columns: readonly string[]): Encoder {
  const options = {
    record_delimiter: "windows",
    // csv-stringify quotes a value holding the record delimiter (CRLF) but not a bare CR or
    // LF; a reader would split the record there.
    quoted_match: /[\r\n]/,
  } as const;
  return {
    head: () => stringify([columns as string[]], options),
    page: (rows) => stringify(rows, options),
  };
}

/** One JSON object per line, keys in column order. */
function jsonlEncoder(columns: readonly string[]): Encoder {
  const prefixes = columns.map((c, i) => `${i === 0 ? "{" : ","}${JSON.stringify(c)}:`);
  const empty = columns.length === 0 ? "{}\n" : "";
  return {
    head: () => "",
    page(rows) {
      let text = "";
      for (const row of rows) {
        if (empty) {
          text += empty;
          continue;
        }
        for (let i = 0; i < prefixes.length; i++) {
          text += prefixes[i] + JSON.stringify(row[i] ?? null);
        }
        text += "}\n";
      }
      return text;
    },
  };
}
