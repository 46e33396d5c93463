import assert from "node:assert/strict";
import { createWorkerApp } from "./worker_app.ts";
import { parsePrometheusText } from "../metrics/_prometheus_text.ts";
import { createLogger } from "../log/logger.ts";
import type { AssignmentStatus } from "./cluster_worker.ts";
import { silentLogger } from "../log/logger.ts";
import { columnsOf } from "../storage/export_http.ts";
import { SqliteResultReader } from "../storage/sqlite_result_reader.ts";
import { SqliteSink } from "../storage/sqlite_sink.ts";

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
  sitemaps: 6,
  sitemapUrls: 10_100,
  queued: 4,
  inFlight: 2,
  frontier: { queued: 4, leased: 3, done: 20, failed: 1, scheduled: 0, due: 0 },
  startedAt: 0,
  render: {
    rendered: 9,
    failed: 1,
    seconds: [0, 2, 8, 0, 0, 0, 0, 0, 0, 0, 0],
    open: 2,
    restarts: 1,
  },
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
  assert.equal(body.tasks[0].stats.sitemaps, 6, "sitemap files read");
  assert.equal(body.tasks[0].stats.sitemapUrls, 10_100, "page URLs the sitemaps listed");
  assert.deepEqual(body.tasks[0].stats.render, stats.render, "what its pages did in Chromium");
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

Deno.test("worker app shows a recrawl task waiting with its revisits, schedule and next visit", async () => {
  const nextDueAt = Date.now() + 192_000;
  const recrawl = { revisits: 1000, notModified: 990, unchanged: 5, changed: 5, nextDueAt };
  const waiting: AssignmentStatus = {
    name: "news",
    id: "1",
    state: "waiting",
    stats: {
      ...stats,
      queued: 0,
      inFlight: 0,
      frontier: { queued: 0, leased: 0, done: 0, failed: 0, scheduled: 1000, due: 3 },
      recrawl,
    },
  };
  const tasks = [waiting, { name: "books", id: "2", state: "running", stats } as AssignmentStatus];
  const body = await (await app(true, tasks).request("/tasks")).json();
  assert.equal(body.tasks[0].state, "waiting");
  assert.deepEqual(body.tasks[0].stats.recrawl, recrawl);
  assert.equal(body.tasks[0].stats.frontier.scheduled, 1000);

  const families = parsePrometheusText(await (await app(true, tasks).request("/metrics")).text());
  const value = (name: string, labels: Record<string, string>) =>
    families.get(name)?.samples.find((s) => JSON.stringify(s.labels) === JSON.stringify(labels))
      ?.value;
  const news = { task: "news" };
  assert.equal(families.get("crawler_task_revisits_total")?.type, "counter");
  assert.equal(value("crawler_task_revisits_total", news), 1000);
  assert.equal(value("crawler_task_not_modified_total", news), 990);
  assert.equal(value("crawler_task_unchanged_total", news), 5);
  assert.equal(value("crawler_task_changed_total", news), 5);
  assert.equal(value("crawler_task_frontier_requests", { ...news, state: "scheduled" }), 1000);
  assert.equal(
    value("crawler_task_frontier_requests", { ...news, state: "due" }),
    undefined,
    "due is a part of scheduled, not a state of its own",
  );
  assert.equal(value("crawler_task_frontier_due", news), 3);
  assert.equal(value("crawler_task_next_due_time_seconds", news), nextDueAt / 1000);
  assert.equal(value("crawler_worker_tasks", { state: "waiting" }), 1);
  assert.equal(value("crawler_worker_tasks", { state: "running" }), 1);
  // A task that does not recrawl has no recrawl series.
  const books = { task: "books" };
  for (const name of ["crawler_task_revisits_total", "crawler_task_frontier_due"]) {
    assert.equal(value(name, books), undefined, name);
  }
  assert.equal(value("crawler_task_next_due_time_seconds", books), undefined);
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

Deno.test("worker app serves a task's stored items behind the token, in key order when asked", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/results.db`;
  const sink = new SqliteSink(path, { logger: silentLogger });
  for (const key of ["b", "a"]) {
    sink.save({
      task: "书",
      rule: "r",
      url: `http://shop.test/${key}`,
      time: Date.UTC(2026, 0, 2),
      key,
      data: { 书名: `《${key}》` },
    }, ["书名"]);
  }
  await sink.close();
  const results = new SqliteResultReader(path);
  const worker = createWorkerApp({
    workerId: "crawler.worker-1",
    tasks: () => [],
    ready: () => true,
    token: "t0ken",
    results,
  });
  const auth = { authorization: "Bearer t0ken" };
  try {
    assert.equal((await worker.request("/tasks/%E4%B9%A6/items")).status, 401);
    const missing = await worker.request("/tasks/none/items", { headers: auth });
    assert.deepEqual([missing.status, await missing.json()], [404, {
      error: 'no results for task "none"',
    }]);
    const byId = await worker.request("/tasks/%E4%B9%A6/items?fields=书名", { headers: auth });
    assert.equal(await byId.text(), '{"书名":"《b》"}\n{"书名":"《a》"}\n');
    const byKey = await worker.request("/tasks/%E4%B9%A6/items?order=key&fields=书名", {
      headers: auth,
    });
    assert.deepEqual(columnsOf(byKey), ["item_key", "书名"]);
    assert.equal(
      await byKey.text(),
      '{"item_key":"a","书名":"《a》"}\n{"item_key":"b","书名":"《b》"}\n',
    );
    const csv = await worker.request("/tasks/%E4%B9%A6/items?format=csv&limit=1", {
      headers: auth,
    });
    assert.equal(
      await csv.text(),
      "rule,url,time,书名\r\nr,http://shop.test/b,2026-01-02T00:00:00.000Z,《b》\r\n",
    );
  } finally {
    await results.close();
    await Deno.remove(dir, { recursive: true });
  }
});
