/**
 * `/metrics` of a real `crawler dev` process after a crawl, read with a strict Prometheus text
 * parser: per-task series carry the `task` label, fetches are counted by status class and host,
 * latency is a histogram, and the process metrics are there. Dev serves the master's metrics at
 * `/metrics` and the worker's at `/worker/metrics` (a cluster worker serves the same at its own
 * `/metrics`).
 */
import assert from "node:assert/strict";
import { type Family, parsePrometheusText } from "../metrics/_prometheus_text.ts";
import { startDoubanFixture } from "./douban_fixture.ts";
import { startDev, waitFor } from "./kit/mod.ts";

function value(families: Map<string, Family>, name: string, labels: Record<string, string>) {
  const family = families.get(name.replace(/_(count|sum|bucket)$/, "")) ?? families.get(name);
  assert.ok(family, `no ${name}`);
  return family.samples.find((s) =>
    s.name === name && JSON.stringify(s.labels) === JSON.stringify(labels)
  )?.value;
}

Deno.test("crawler dev serves Prometheus metrics with task and host labels after a crawl", async () => {
  // 2 tags × 7 books: books 3 and 10 answer 500 once, then 200 on the retry.
  const site = startDoubanFixture({ tags: 2, booksPerTag: 7, failOnceEvery: 7 });
  const dir = await Deno.makeTempDir();
  const token = "metrics-token";
  const dev = await startDev({ cwd: dir, token });
  try {
    await waitFor(async () => (await dev.request("/crawler/leader")).body.isLeader === true, {
      what: "a leader",
      timeoutMs: 20_000,
    });
    await waitFor(async () => (await dev.request("/worker/readyz")).status === 200, {
      what: "the worker",
    });
    const added = await dev.request("/crawler/resource", {
      method: "POST",
      json: {
        name: "books",
        spec: { rule: "douban_book_list", url: `${site.url}/`, waitTime: 0, limits: [] },
      },
    });
    assert.equal(added.status, 200);
    let stats = { fetched: 0, items: 0, retried: 0 };
    await waitFor(async () => {
      const tasks = (await dev.request("/worker/tasks")).body.tasks as Array<
        { state: string; stats: typeof stats }
      >;
      stats = tasks[0]?.stats;
      return tasks[0]?.state === "finished";
    }, { what: "the task to finish", timeoutMs: 15_000 });
    assert.equal(stats.retried, 2);
    assert.ok(stats.fetched >= site.pages && stats.items >= site.books.length);

    const unauthorised = await fetch(dev.url("/worker/metrics"));
    assert.equal(unauthorised.status, 401);
    await unauthorised.body?.cancel();
    const probe = await fetch(dev.url("/worker/healthz")); // probes need no token
    assert.equal(probe.status, 200);
    await probe.body?.cancel();
    const response = await fetch(dev.url("/worker/metrics"), {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.match(response.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/);
    const worker = parsePrometheusText(await response.text());
    const books = { task: "books" };
    assert.equal(value(worker, "crawler_task_pages_fetched_total", books), stats.fetched);
    assert.equal(value(worker, "crawler_task_pages_failed_total", books), 0);
    assert.equal(value(worker, "crawler_task_retries_total", books), 2);
    assert.equal(value(worker, "crawler_task_items_total", books), stats.items);
    assert.equal(value(worker, "crawler_task_queue_size", books), 0);
    assert.equal(value(worker, "crawler_task_leased", books), 0);
    assert.equal(value(worker, "crawler_worker_tasks", { state: "finished" }), 1);
    assert.equal(value(worker, "crawler_fetches_total", { class: "2xx" }), stats.fetched);
    assert.equal(value(worker, "crawler_fetches_total", { class: "5xx" }), 2);
    const host = new URL(site.url).host;
    assert.equal(value(worker, "crawler_host_fetches_total", { host }), stats.fetched + 2);
    assert.equal(value(worker, "crawler_host_fetch_failures_total", { host }), 2);
    assert.equal(
      value(worker, "crawler_fetch_duration_seconds_count", {}),
      stats.fetched + 2,
    );
    assert.equal(worker.get("crawler_fetch_duration_seconds")!.type, "histogram");
    assert.ok(value(worker, "process_resident_memory_bytes", {})! > 0);

    const master = parsePrometheusText(
      await (await fetch(dev.url("/metrics"), { headers: { authorization: `Bearer ${token}` } }))
        .text(),
    );
    assert.equal(value(master, "crawler_master_is_leader", {}), 1);
    assert.equal(value(master, "crawler_master_resources", {}), 1);
    assert.ok(value(master, "process_cpu_seconds_total", {})! > 0);
  } catch (error) {
    console.error(dev.logs.slice(-40).join("\n"));
    throw error;
  } finally {
    await dev.stop("SIGKILL");
    await site.close();
    await Deno.remove(dir, { recursive: true });
  }
});
