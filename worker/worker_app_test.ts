import assert from "node:assert/strict";
import { createWorkerApp } from "./worker_app.ts";
import { parsePrometheusText } from "../metrics/_prometheus_text.ts";
import { createLogger } from "../log/logger.ts";
import type { AssignmentStatus } from "./cluster_worker.ts";

const stats = {
  fetched: 12,
  failed: 1,
  retried: 2,
  items: 10,
  tooDeep: 0,
  duplicates: 3,
  disallowed: 5,
  throttled: 1,
  deferred: 0,
  exhausted: 0,
  queued: 4,
  inFlight: 2,
  frontier: { queued: 4, leased: 3, done: 20, failed: 1 },
  startedAt: 0,
};

function app(ready = true, tasks: AssignmentStatus[] = []) {
  return createWorkerApp({ workerId: "crawler.worker-1", tasks: () => tasks, ready: () => ready });
}

Deno.test("worker app answers liveness and readiness", async () => {
  assert.equal((await app().request("/healthz")).status, 200);
  assert.equal((await app(true).request("/readyz")).status, 200);
  const notReady = await app(false).request("/readyz");
  assert.equal(notReady.status, 503);
  assert.deepEqual(await notReady.json(), { ready: false, worker: "crawler.worker-1" });
});

Deno.test("worker app lists its tasks with their counters", async () => {
  const tasks: AssignmentStatus[] = [
    { name: "books", id: "1", state: "running", stats },
    { name: "mystery", id: "2", state: "unknown", error: 'unknown task "mystery"' },
  ];
  const body = await (await app(true, tasks).request("/tasks")).json();
  assert.equal(body.worker, "crawler.worker-1");
  assert.deepEqual(body.tasks, tasks);
});

Deno.test("worker app exposes Prometheus metrics per task", async () => {
  const hosts = [{
    host: "http://a.test:80",
    requests: 7,
    throttled: 1,
    disallowed: 5,
    delayMs: 1500,
    blockedUntil: 0,
  }];
  const res = await app(true, [{ name: 'say "hi"', id: "1", state: "running", stats, hosts }])
    .request("/metrics");
  assert.match(res.headers.get("content-type")!, /^text\/plain; version=0.0.4/);
  const families = parsePrometheusText(await res.text());
  const value = (name: string, labels: Record<string, string>) =>
    families.get(name)?.samples.find((s) => JSON.stringify(s.labels) === JSON.stringify(labels))
      ?.value;
  const task = { task: 'say "hi"' };
  assert.equal(families.get("crawler_task_pages_fetched_total")?.type, "counter");
  assert.equal(value("crawler_task_pages_fetched_total", task), 12);
  assert.equal(value("crawler_task_pages_failed_total", task), 1);
  assert.equal(value("crawler_task_items_total", task), 10);
  assert.equal(value("crawler_task_queue_size", task), 4);
  assert.equal(value("crawler_task_leased", task), 2);
  assert.equal(value("crawler_task_disallowed_total", task), 5);
  assert.equal(value("crawler_task_throttled_total", task), 1);
  const host = { ...task, host: "http://a.test:80" };
  assert.equal(value("crawler_host_requests_total", host), 7);
  assert.equal(value("crawler_host_throttled_total", host), 1);
  assert.equal(value("crawler_host_disallowed_total", host), 5);
  assert.equal(value("crawler_host_delay_seconds", host), 1.5);
  assert.equal(value("crawler_host_blocked_until_seconds", host), 0);
  // The task's frontier, as every worker of the task sees it.
  assert.equal(value("crawler_task_frontier_requests", { ...task, state: "done" }), 20);
  assert.equal(value("crawler_task_frontier_requests", { ...task, state: "leased" }), 3);
  assert.equal(value("crawler_worker_tasks", { state: "running" }), 1);
  assert.equal(value("crawler_worker_info", { worker: "crawler.worker-1" }), 1);
  assert.ok(value("process_cpu_seconds_total", {})! > 0);
});

Deno.test("worker app answers unknown routes with a JSON 404", async () => {
  const res = await app().request("/nope");
  assert.equal(res.status, 404);
  assert.match((await res.json()).error, /no route for GET \/nope/);
});

Deno.test("worker app answers an unexpected failure 500 through the error table, logging it", async () => {
  const logged: string[] = [];
  const logger = createLogger({ write: (line) => logged.push(line) });
  const failing = createWorkerApp({
    workerId: "crawler.worker-1",
    tasks: () => {
      throw new TypeError("secret detail");
    },
    ready: () => true,
    logger,
  });
  const response = await failing.request("/tasks");
  assert.equal(response.status, 500);
  assert.deepEqual(await response.json(), { error: "internal error" });
  assert.equal(logged.length, 1);
  assert.match(logged[0], /"level":"ERROR".*secret detail/);
});
