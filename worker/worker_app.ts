/**
 * @module
 * The worker's HTTP API: liveness, readiness, the status of its tasks with their counters,
 * Prometheus metrics (see `metrics/`), and a task's stored items (`GET /tasks/<name>/items`:
 * the master merges its workers' SQLite results from these).
 */
import { Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { PROBE_PATHS, requireToken } from "../auth/mod.ts";
import { errorReply } from "../errors/mod.ts";
import type { Registry } from "prom-client";
import { createWorkerRegistry } from "../metrics/worker_registry.ts";
import type { AssignmentStatus } from "./cluster_worker.ts";
import type { Logger } from "../log/logger.ts";
import type { ResultReader } from "../storage/result_reader.ts";
import { exportResponse, parseExportParams } from "../storage/export_http.ts";

export interface WorkerAppDeps {
  workerId: string;
  /** The tasks this worker runs or was assigned, with counters. */
  tasks: () => AssignmentStatus[];
  /** True when the worker is registered and following its assignments. */
  ready: () => boolean;
  /**
   * The bearer token every request but the probes must carry (docs/operating.md, "Auth"). Default:
   * none.
   */
  token?: string;
  /** Serve `/metrics` without the token (`auth.metrics = "open"`). Default false. */
  openMetrics?: boolean;
  /** What `/metrics` serves. Default: the per-task and process metrics of `tasks`. */
  metrics?: Registry;
  /** Where an unexpected error (a 500) is logged with its details. Default: nowhere. */
  logger?: Logger;
  /** The results this worker stored, served by `GET /tasks/<name>/items`. Default: none. */
  results?: ResultReader;
}

/** Builds the worker's Hono app (tested with `app.request()`, served by `Deno.serve`). */
export function createWorkerApp(deps: WorkerAppDeps): Hono {
  const app = new Hono();
  app.use(
    "*",
    requireToken({
      token: deps.token,
      publicPaths: [...PROBE_PATHS, ...(deps.openMetrics ? ["/metrics"] : [])],
    }),
  );
  app.get("/healthz", (c) => c.json({ status: "ok", worker: deps.workerId }));
  app.get("/readyz", (c) => {
    const ready = deps.ready();
    return c.json({ ready, worker: deps.workerId }, ready ? 200 : 503);
  });
  app.get("/tasks", (c) => c.json({ worker: deps.workerId, tasks: deps.tasks() }));
  const results = deps.results;
  if (results) {
    // The task's rows as `crawler export` writes them; `order=key` sorts them by item_key with
    // the key in each row, so the master can merge several workers' files as it streams them.
    app.get("/tasks/:name/items", async (c) => {
      const name = c.req.param("name");
      const { format, query } = parseExportParams((p) => c.req.query(p), { order: true });
      const rows = await results.rows(name, query);
      return exportResponse(name, rows, format, {
        onError: (error) => deps.logger?.error("export failed", { task: name, error }),
      });
    });
  }
  const registry = deps.metrics ??
    createWorkerRegistry({ workerId: deps.workerId, tasks: deps.tasks });
  app.get("/metrics", async (c) => {
    c.header("content-type", registry.contentType);
    return c.body(await registry.metrics());
  });
  app.notFound((c) => c.json({ error: `no route for ${c.req.method} ${c.req.path}` }, 404));
  // The one error table (`errors/error_reply.ts`): an unexpected error is a 500 with a generic
  // message; its details go to the log, not to the caller.
  app.onError((error, c) => {
    const reply = errorReply(error);
    if (reply.kind === undefined) {
      deps.logger?.error("request failed", { method: c.req.method, path: c.req.path, error });
    }
    return c.json({ error: reply.message }, reply.status as ContentfulStatusCode);
  });
  return app;
}
