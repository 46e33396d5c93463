/**
 * @module
 * The HTTP face of an export, shared by the master's `GET /crawler/resource/<name>/items` and
 * the worker's `GET /tasks/<name>/items`: the query parameters, checked, and the streamed answer.
 */
import { InvalidArgumentError } from "../errors/mod.ts";
import {
  EXPORT_CONTENT_TYPES,
  EXPORT_FORMATS,
  type ExportFormat,
  exportStream,
} from "./export_stream.ts";
import { parseFields, parseSince, type ResultQuery, type ResultRows } from "./result_reader.ts";

/** The most rows `limit` may ask for (no `limit`: every row). */
export const MAX_EXPORT_LIMIT = 1_000_000_000;

/** The response header listing an export's columns (URI-encoded JSON: names may be Chinese). */
export const COLUMNS_HEADER = "x-crawler-columns";

/** What an export request asks for. */
export interface ExportRequest {
  /** How the rows are written. */
  format: ExportFormat;
  /** Which rows and columns. */
  query: ResultQuery;
}

/** Options for {@linkcode parseExportParams}. */
export interface ExportParamsOptions {
  /** Accept `order=id|key` (the worker's route, for the master's merge). Default false. */
  order?: boolean;
}

/**
 * Reads `format` (`jsonl`, the default, or `csv`), `since` (an ISO 8601 date or date-time),
 * `limit` (a positive integer) and `fields` (`a,b`) through `param`. Throws
 * `InvalidArgumentError` naming the bad parameter.
 *
 * @example
 * ```ts
 * const { format, query } = parseExportParams((name) => c.req.query(name));
 * ```
 */
export function parseExportParams(
  param: (name: string) => string | undefined,
  options: ExportParamsOptions = {},
): ExportRequest {
  const format = param("format") ?? "jsonl";
  if (!EXPORT_FORMATS.includes(format as ExportFormat)) {
    throw new InvalidArgumentError(
      `format: expected ${EXPORT_FORMATS.join(" or ")}, got "${format}"`,
    );
  }
  const query: ResultQuery = {};
  const since = param("since");
  if (since !== undefined && since !== "") {
    query.since = parseSince(since);
    if (!query.since) {
      throw new InvalidArgumentError(
        `since: expected an ISO 8601 date like 2026-01-02 or 2026-01-02T03:04:05Z, got "${since}"`,
      );
    }
  }
  const limit = param("limit");
  if (limit !== undefined && limit !== "") {
    const n = /^\d{1,10}$/.test(limit) ? Number(limit) : NaN;
    if (!(n >= 1 && n <= MAX_EXPORT_LIMIT)) {
      throw new InvalidArgumentError(
        `limit: expected a whole number from 1 to ${MAX_EXPORT_LIMIT}, got "${limit}"`,
      );
    }
    query.limit = n;
  }
  const fields = param("fields");
  if (fields !== undefined) {
    query.fields = parseFields(fields);
    if (!query.fields) {
      throw new InvalidArgumentError(`fields: expected column names like a,b, got "${fields}"`);
    }
  }
  const order = param("order");
  if (order !== undefined && options.order) {
    if (order !== "id" && order !== "key") {
      throw new InvalidArgumentError(`order: expected id or key, got "${order}"`);
    }
    query.order = order;
  }
  return { format: format as ExportFormat, query };
}

/** Options for {@linkcode exportResponse}. */
export interface ExportResponseOptions {
  /** Called with the error a read failed with once the answer had begun (to log it). */
  onError?: (error: unknown) => void;
}

/**
 * A 200 answer streaming `rows` as `format`, offered as a download named after `task`; its
 * columns are in the {@linkcode COLUMNS_HEADER} header. The body is read as it is sent: the
 * first bytes leave before the table is read to its end.
 */
export function exportResponse(
  task: string,
  rows: ResultRows,
  format: ExportFormat,
  options: ExportResponseOptions = {},
): Response {
  const file = `${task}.${format}`;
  const ascii = file.replace(/[^A-Za-z0-9._-]/g, "_");
  return new Response(exportStream(rows, format, { onError: options.onError }), {
    headers: {
      "content-type": EXPORT_CONTENT_TYPES[format],
      "content-disposition": `attachment; filename="${ascii}"; filename*=UTF-8''${
        encodeURIComponent(file)
      }`,
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
      [COLUMNS_HEADER]: encodeURIComponent(JSON.stringify(rows.columns)),
    },
  });
}

/** The columns of an export answer, from its {@linkcode COLUMNS_HEADER}; undefined if absent. */
export function columnsOf(response: Response): string[] | undefined {
  const header = response.headers.get(COLUMNS_HEADER);
  if (header === null) return undefined;
  try {
    const columns = JSON.parse(decodeURIComponent(header));
    return Array.isArray(columns) && columns.every((c) => typeof c === "string")
      ? columns
      : undefined;
  } catch {
    return undefined;
  }
}
