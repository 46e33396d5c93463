/**
 * @module
 * `GET /crawler/resource/<name>/items?format=jsonl|csv&since=&limit=&fields=`: a task's stored
 * items as a streamed download, added to the master's Hono app. The rows come from a
 * {@linkcode ResultReader}: the results database itself (Postgres, or `crawler dev`'s SQLite
 * file), or the workers' SQLite files merged by `WorkerResultReader`. Errors go through the
 * app's one `onError` mapping.
 */
import type { Hono } from "hono";
import { resourceNameSchema } from "../proto/api_bodies.ts";
import { exportResponse, parseExportParams } from "../storage/export_http.ts";
import {
  DEFAULT_COLUMNS,
  emptyRows,
  type ResultReader,
  type ResultRows,
} from "../storage/result_reader.ts";
import type { Logger } from "../log/logger.ts";
import { silentLogger } from "../log/logger.ts";
import { NoResultsError } from "../errors/mod.ts";
import type { Master } from "./master.ts";
import { parseRequest } from "./validation.ts";

/** Dependencies of {@linkcode addItemsRoute}. */
export interface ItemsRouteDeps {
  /** Says whether the resource exists. */
  master: Pick<Master, "getResource">;
  /** Where the rows are read. */
  results: ResultReader;
  /** Where an export that fails once it has begun is logged. Default: nowhere. */
  logger?: Logger;
}

/**
 * Adds the items route. An unknown resource is a 404 (`NotFoundError`); a resource with nothing
 * stored yet an empty export (a CSV header of `rule,url,time`, or of the fields asked for).
 */
export function addItemsRoute(app: Hono, deps: ItemsRouteDeps): void {
  const logger = deps.logger ?? silentLogger;
  app.get("/crawler/resource/:name/items", async (c) => {
    // Hono has already decoded the path parameter.
    const name = parseRequest(resourceNameSchema, c.req.param("name"));
    const { format, query } = parseExportParams((p) => c.req.query(p));
    await deps.master.getResource(name);
    let rows: ResultRows;
    try {
      rows = await deps.results.rows(name, query);
    } catch (error) {
      if (!(error instanceof NoResultsError)) throw error;
      rows = emptyRows(query.fields ?? DEFAULT_COLUMNS);
    }
    return exportResponse(name, rows, format, {
      onError: (error) => logger.error("export failed", { task: name, error }),
    });
  });
}
