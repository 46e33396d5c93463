/**
 * @module
 * The worker's HTTP API: liveness, readiness, the status of its tasks with their counters,
 * and Prometheus metrics.
 */
import { Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { PROBE_PATHS, requireToken } from "../auth/mod.ts";
import { errorReply } from "../master/errors.ts";
import type { AssignmentStatus } from "./cluster_worker.ts";

export interface WorkerAppDeps {
  workerId: string;
  /** The tasks this worker runs or was assigned, with counters. */
  tasks: () => AssignmentStatus[];
  /** True when the worker is registered and following its assignments. */
  ready: () => boolean;
  /** The bearer token every request but the probes must carry (SPEC §9). Default: none. */
  token?: string;
  /** Serve `/metrics` without the token (`auth.metrics = "open"`). Default false. */
  openMetrics?: boolean;
}

const COUNTERS = ["fetched", "failed", "retried", "items", "duplicates", "tooDeep"] as const;
const GAUGES = ["queued", "inFlight"] as const;

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
  app.get("/metrics", (c) => {
    c.header("content-type", "text/plain; version=0.0.4; charset=utf-8");
    return c.body(workerMetrics(deps.workerId, deps.tasks()));
  });
  app.notFound((c) => c.json({ error: `no route for ${c.req.method} ${c.req.path}` }, 404));
  app.onError((error, c) => {
    const reply = errorReply(error);
    return c.json({ error: reply.message }, reply.status as ContentfulStatusCode);
  });
  return app;
}

/** Prometheus text: per-task counters and gauges, and how many tasks are in each state. */
export function workerMetrics(workerId: string, tasks: AssignmentStatus[]): string {
  const lines: string[] = [];
  const label = (v: string) =>
    v.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
  const snake = (s: string) => s.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`);
  for (const key of COUNTERS) {
    const name = `crawler_task_${snake(key)}_total`;
    lines.push(`# TYPE ${name} counter`);
    for (const t of tasks) {
      if (t.stats) {
        lines.push(`${name}{worker="${label(workerId)}",task="${label(t.name)}"} ${t.stats[key]}`);
      }
    }
  }
  for (const key of GAUGES) {
    const name = `crawler_task_${snake(key)}`;
    lines.push(`# TYPE ${name} gauge`);
    for (const t of tasks) {
      if (t.stats) {
        lines.push(`${name}{worker="${label(workerId)}",task="${label(t.name)}"} ${t.stats[key]}`);
      }
    }
  }
  lines.push("# TYPE crawler_worker_tasks gauge");
  const states = new Map<string, number>();
  for (const t of tasks) states.set(t.state, (states.get(t.state) ?? 0) + 1);
  for (const state of ["running", "finished", "stopped", "unknown"]) {
    lines.push(
      `crawler_worker_tasks{worker="${label(workerId)}",state="${state}"} ${
        states.get(state) ?? 0
      }`,
    );
  }
  return lines.join("\n") + "\n";
}
