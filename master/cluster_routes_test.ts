import assert from "node:assert/strict";
import { silentLogger } from "../log/logger.ts";
import { loadCrawlerMasterGrpc } from "../proto/crawler_grpc.ts";
import { resourceKey } from "../proto/keys.ts";
import { decodeResourceSpec } from "../proto/resource_spec.ts";
import type { TaskReport } from "../proto/worker_report.ts";
import { builtinRuleSets } from "../rulesets/mod.ts";
import type { EmbeddedStore } from "../store/embedded_store.ts";
import type { AssignmentStatus } from "../worker/cluster_worker.ts";
import { type RunningWorkerGrpc, startWorkerGrpc } from "../worker/worker_grpc.ts";
import { openTestStore, registerWorker } from "./_testing.ts";
import { waitFor } from "../tests/kit/wait.ts";
import { ClusterView, type TaskView } from "./cluster_view.ts";
import { NotFoundError } from "../errors/mod.ts";
import { MasterGrpcClient } from "./grpc_client.ts";
import { type RunningGrpcServer, startGrpcServer } from "./grpc_server.ts";
import { createApp } from "./http_app.ts";
import { Master } from "./master.ts";
import { GrpcWorkerStatusSource } from "./worker_status_source.ts";

const spec = { rule: "douban_book_list", url: "http://127.0.0.1:1/" };

/**
 * A leader over an embedded store, a real worker gRPC server registered as `w1` that reports
 * `tasks`, and the master's app with a cluster view that asks that server for real.
 */
async function cluster(options: { callTimeoutMs?: number } = {}) {
  const store: EmbeddedStore & AsyncDisposable = await openTestStore();
  let tasks: AssignmentStatus[] = [];
  const worker: RunningWorkerGrpc = await startWorkerGrpc({
    hostname: "127.0.0.1",
    port: 0,
    workerId: "w1",
    tasks: () => tasks,
    ready: () => true,
  });
  await registerWorker(store, "w1", { port: worker.port });
  const master = new Master({
    store,
    id: "master1-127.0.0.1:9091",
    electionTtlSeconds: 5,
    ruleSets: builtinRuleSets().keys(),
    logger: silentLogger,
  });
  master.start();
  await waitFor(() => master.isLeader, { what: "leadership" });
  let now = 1_000_000;
  const source = new GrpcWorkerStatusSource();
  const view = new ClusterView({
    master,
    workers: source,
    callTimeoutMs: options.callTimeoutMs ?? 3000,
    clock: () => now,
  });
  const app = createApp({ master, view, logger: silentLogger });
  return {
    store,
    master,
    view,
    app,
    setTasks: (next: AssignmentStatus[]) => (tasks = next),
    advance: (ms: number) => (now += ms),
    async [Symbol.asyncDispose]() {
      source.close(); // clients before servers (denoland/deno#36788)
      await master.stop();
      await worker.close();
      await store.close();
    },
  };
}

function running(id: string, fetched: number, extra: Partial<TaskReport> = {}): AssignmentStatus {
  return {
    name: "books",
    id,
    state: "running",
    stats: {
      fetched,
      failed: 1,
      retried: 2,
      items: fetched * 2,
      tooDeep: 0,
      duplicates: 0,
      queued: 40,
      inFlight: 3,
      startedAt: 5,
    },
    activity: {
      errors: [{ url: "http://127.0.0.1:1/missing", error: "HTTP 404", at: 7 }],
      hosts: [{ host: "127.0.0.1:1", fetched, failed: 1 }],
    },
    ...extra,
  } as AssignmentStatus;
}

async function body(response: Response): Promise<Record<string, unknown>> {
  return await response.json();
}

Deno.test("GET a resource by name sums what its worker reports, with rate, errors and hosts", async () => {
  await using c = await cluster();
  await c.master.addResource({ name: "books", spec });
  const id = decodeResourceSpec((await c.store.get(resourceKey("books")))!.value).ID;
  c.setTasks([running(id, 10)]);
  await c.view.poll();
  c.advance(2000);
  c.setTasks([running(id, 50)]);
  await c.view.poll();

  const response = await c.app.request("/crawler/resource/books");
  assert.equal(response.status, 200);
  const view = await body(response) as unknown as TaskView;
  assert.equal(view.name, "books");
  assert.equal(view.state, "running");
  assert.equal(view.paused, false);
  assert.deepEqual(view.totals, {
    fetched: 50,
    failed: 1,
    retried: 2,
    items: 100,
    queued: 40,
    leased: 3,
  });
  assert.deepEqual(view.history, [20]); // 40 pages in 2 s
  assert.equal(view.pagesPerSecond, 20);
  assert.deepEqual(view.placements.map((p) => [p.workerId, p.state]), [["w1", "running"]]);
  assert.deepEqual(view.errors, [
    { url: "http://127.0.0.1:1/missing", error: "HTTP 404", at: 7, workerId: "w1" },
  ]);
  assert.deepEqual(view.hosts, [{
    host: "127.0.0.1:1",
    fetched: 50,
    failed: 1,
    throttled: 0,
    disallowed: 0,
    delayMs: 0,
    blockedUntil: 0,
  }]);
  assert.deepEqual(view.resource.Spec, spec);

  // An older run of the same name (another ID) is not this resource's.
  c.setTasks([running("123", 999)]);
  await c.view.poll();
  const stale = await body(await c.app.request("/crawler/resource/books")) as unknown as TaskView;
  assert.equal(stale.state, "pending");
  assert.equal(stale.totals.fetched, 0);
});

Deno.test("pause and resume are stored in the resource; unknown names are 404, bad ones 400", async () => {
  await using c = await cluster();
  await c.master.addResource({ name: "books", spec });
  const paused = await c.app.request("/crawler/resource/books/pause", { method: "POST" });
  assert.equal(paused.status, 200);
  assert.equal(((await body(paused)).resource as Record<string, unknown>).Paused, true);
  const stored = () =>
    c.store.get(resourceKey("books")).then((kv) => decodeResourceSpec(kv!.value));
  assert.equal((await stored()).Paused, true);
  // Twice is the same answer, and the view says paused whatever the worker reports.
  assert.equal(
    (await c.app.request("/crawler/resource/books/pause", { method: "POST" })).status,
    200,
  );
  const view = await body(await c.app.request("/crawler/resource/books"));
  assert.equal(view.state, "paused");
  assert.equal(view.paused, true);

  const resumed = await c.app.request("/crawler/resource/books/resume", { method: "POST" });
  assert.equal(resumed.status, 200);
  assert.equal((await stored()).Paused, undefined);
  assert.equal((await stored()).AssignedNode.startsWith("w1|"), true);

  for (const path of ["/crawler/resource/nope", "/crawler/resource/nope/pause"]) {
    const method = path.endsWith("pause") ? "POST" : "GET";
    const answer = await c.app.request(path, { method });
    assert.equal(answer.status, 404, path);
    assert.deepEqual(await body(answer), { error: 'resource "nope" does not exist' });
  }
  // Names are percent-decoded once: "50%off" is sent as 50%25off.
  await c.master.addResource({ name: "50%off", spec });
  const odd = await c.app.request("/crawler/resource/50%25off/pause", { method: "POST" });
  assert.equal(odd.status, 200);
  assert.equal(((await body(odd)).resource as Record<string, unknown>).Name, "50%off");
  const bad = await c.app.request("/crawler/resource/a%20b/resume", { method: "POST" });
  assert.equal(bad.status, 400);
  assert.match(String((await body(bad)).error), /must not contain/);
});

Deno.test("a worker that does not answer is shown unreachable and does not hold up the API", async () => {
  await using c = await cluster({ callTimeoutMs: 300 });
  // A second worker whose port accepts connections but never speaks gRPC.
  const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of silent) accepted.push(conn);
  })();
  try {
    await registerWorker(c.store, "w2", { port: silent.addr.port });
    const started = performance.now();
    await c.view.poll();
    assert.ok(performance.now() - started < 2500, "the poll waited no longer than its deadline");
    const snapshot = await body(await c.app.request("/crawler/cluster"));
    const workers = snapshot.workers as Array<Record<string, unknown>>;
    assert.deepEqual(workers.map((w) => [w.id, w.health]), [["w1", "ok"], ["w2", "unreachable"]]);
    assert.match(String(workers[1].error), /w2/);
  } finally {
    silent.close();
    await accepting.catch(() => {});
    for (const conn of accepted) conn.close();
  }
});

Deno.test("the resource and worker lists page with limit and after", async () => {
  await using c = await cluster();
  for (const name of ["e", "a", "d", "b", "c"]) await c.master.addResource({ name, spec });
  const page = async (query: string) =>
    await body(await c.app.request(`/crawler/resource${query}`));
  const names = (answer: Record<string, unknown>) =>
    (answer.resources as Array<{ Name: string }>).map((r) => r.Name);

  const first = await page("?limit=2");
  assert.deepEqual([names(first), first.next], [["a", "b"], "b"]);
  const second = await page(`?limit=2&after=${first.next}`);
  assert.deepEqual([names(second), second.next], [["c", "d"], "d"]);
  const last = await page(`?limit=2&after=${second.next}`);
  assert.deepEqual([names(last), last.next], [["e"], undefined]);
  assert.deepEqual(names(await page("")), ["a", "b", "c", "d", "e"]);
  for (const bad of ["?limit=abc", "?limit=0", "?limit=100000"]) {
    const answer = await c.app.request(`/crawler/resource${bad}`);
    assert.equal(answer.status, 400, bad);
    assert.match(String((await body(answer)).error), /^limit: /);
  }

  await registerWorker(c.store, "w0", { port: 9999 });
  const workers = await body(await c.app.request("/crawler/workers?limit=1"));
  assert.deepEqual(
    [(workers.workers as Array<{ id: string }>).map((w) => w.id), workers.next],
    [["w0"], "w0"],
  );
});

Deno.test("task control over gRPC: GetResource, PauseResource, ResumeResource, paged lists", async () => {
  await using c = await cluster();
  const grpc = loadCrawlerMasterGrpc();
  const server: RunningGrpcServer = await startGrpcServer({
    master: c.master,
    hostname: "127.0.0.1",
    port: 0,
    grpc,
    view: c.view,
  });
  const client = new MasterGrpcClient(`127.0.0.1:${server.port}`, { grpc, timeoutMs: 3000 });
  try {
    for (const name of ["books", "news"]) await c.master.addResource({ name, spec });
    const id = decodeResourceSpec((await c.store.get(resourceKey("books")))!.value).ID;
    c.setTasks([running(id, 10)]);
    await c.view.poll();

    const detail = await client.getResource("books");
    assert.equal(detail.resource.name, "books");
    assert.equal(detail.state, "running");
    assert.equal(String(detail.totals.fetched), "10");
    assert.deepEqual(detail.placements.map((p) => [p.worker_id, p.state]), [["w1", "running"]]);
    assert.deepEqual(detail.errors.map((e) => e.url), ["http://127.0.0.1:1/missing"]);

    assert.equal((await client.setPaused({ name: "books" }, true)).Paused, true);
    // The worker still reports it running until it sees the pause.
    assert.equal((await client.getResource("books")).state, "pausing");
    c.setTasks([{ name: "books", id, state: "paused" }]);
    await c.view.poll();
    assert.equal((await client.getResource("books")).state, "paused");
    assert.equal((await client.setPaused({ name: "books" }, false)).Paused, undefined);
    await assert.rejects(client.getResource("nope"), NotFoundError);
    await assert.rejects(client.setPaused({ name: "nope" }, true), (error: Error) => {
      assert.ok(error instanceof NotFoundError);
      assert.equal(error.message, 'resource "nope" does not exist');
      return true;
    });

    const first = await client.listResourcesPage({ limit: 1 });
    assert.deepEqual([first.resources.map((r) => r.Name), first.next], [["books"], "books"]);
    const rest = await client.listResourcesPage({ limit: 1, after: first.next });
    assert.deepEqual([rest.resources.map((r) => r.Name), rest.next], [["news"], undefined]);
  } finally {
    client.close();
    await server.close();
  }
});

Deno.test("a task placed on two workers sums both; a worker gone silent keeps its last counters", async () => {
  await using c = await cluster({ callTimeoutMs: 500 });
  let secondTasks: AssignmentStatus[] = [];
  const second = await startWorkerGrpc({
    hostname: "127.0.0.1",
    port: 0,
    workerId: "w2",
    tasks: () => secondTasks,
    ready: () => true,
  });
  let secondClosed = false;
  try {
    await registerWorker(c.store, "w2", { port: second.port });
    const placements = [`w1|127.0.0.1:1`, `w2|127.0.0.1:${second.port}`];
    await c.store.put(
      resourceKey("shared"),
      JSON.stringify({
        ID: "77",
        Name: "shared",
        AssignedNode: placements[0],
        Placements: placements,
        CreationTime: 1,
        Spec: { ...spec, workers: 2 }, // else the leader keeps only the one placement it wants
      }),
    );
    const shared = (fetched: number) => running("77", fetched, { name: "shared" });
    c.setTasks([shared(10)]);
    secondTasks = [shared(5)];
    await c.view.poll();
    c.advance(2000);
    c.setTasks([shared(20)]);
    secondTasks = [shared(15)];
    await c.view.poll();
    let view = await c.view.resource("shared");
    assert.equal(view.totals.fetched, 35);
    assert.equal(view.totals.leased, 6);
    assert.equal(view.totals.queued, 40, "the frontier's queue, shared by both: not summed");
    assert.deepEqual(view.history, [10]); // 20 pages more in 2 s, over both workers
    assert.deepEqual(view.hosts, [{
      host: "127.0.0.1:1",
      fetched: 35,
      failed: 2,
      throttled: 0,
      disallowed: 0,
      delayMs: 0,
      blockedUntil: 0,
    }]);
    assert.deepEqual(view.errors.map((e) => e.workerId).sort(), ["w1", "w2"]);

    // The second worker stops answering (its registration stays, as after a kill -9).
    await second.close();
    secondClosed = true;
    c.advance(2000);
    await c.view.poll();
    view = await c.view.resource("shared");
    assert.deepEqual(view.placements.map((p) => [p.workerId, p.state]), [
      ["w1", "running"],
      ["w2", "unreachable"],
    ]);
    assert.equal(view.totals.fetched, 35, "the silent worker's last counters still count");
    assert.equal(view.state, "running");
  } finally {
    if (!secondClosed) await second.close();
  }
});

Deno.test("a task with sitemaps shows the sitemap files read and URLs found in its totals", async () => {
  await using c = await cluster();
  await c.master.addResource({ name: "books", spec });
  const id = decodeResourceSpec((await c.store.get(resourceKey("books")))!.value).ID;
  const report = running(id, 10);
  c.setTasks([{ ...report, stats: { ...report.stats!, sitemaps: 6, sitemapUrls: 10_100 } }]);
  await c.view.poll();
  const view = await body(await c.app.request("/crawler/resource/books")) as unknown as TaskView;
  assert.equal(view.totals.sitemaps, 6);
  assert.equal(view.totals.sitemapUrls, 10_100);
});

Deno.test("a task whose pages are rendered shows its browser figures in its totals and placements", async () => {
  await using c = await cluster();
  await c.master.addResource({ name: "books", spec });
  const id = decodeResourceSpec((await c.store.get(resourceKey("books")))!.value).ID;
  const report = running(id, 10);
  const seconds = [0, 2, 8, 0, 0, 0, 0, 0, 0, 0, 1];
  c.setTasks([{
    ...report,
    stats: { ...report.stats!, render: { rendered: 9, failed: 1, seconds, open: 2, restarts: 1 } },
  }]);
  await c.view.poll();
  const view = await body(await c.app.request("/crawler/resource/books")) as unknown as TaskView;
  assert.deepEqual(view.totals.render, { rendered: 9, failed: 1, seconds, open: 2, restarts: 1 });
  assert.deepEqual(view.placements[0].counters?.render, view.totals.render);
  const snapshot = await body(await c.app.request("/crawler/cluster")) as unknown as {
    renderSeconds: number[];
  };
  assert.deepEqual(snapshot.renderSeconds, [0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60]);
});

/** A report of the recrawl task `news` on one worker: waiting for its next visit unless `state`. */
function recrawling(
  id: string,
  recrawl: { revisits: number; notModified: number; nextDueAt?: number },
  frontier: { scheduled: number; due: number },
  state: "waiting" | "running" = "waiting",
): AssignmentStatus {
  const report = running(id, recrawl.revisits, { name: "news" });
  return {
    ...report,
    state,
    stats: {
      ...report.stats!,
      queued: 0,
      inFlight: 0,
      frontier: { queued: 0, leased: 0, done: 0, failed: 0, ...frontier },
      recrawl: { unchanged: 1, changed: 2, ...recrawl },
    },
  };
}

Deno.test("a recrawl task on two workers waits only when both wait; revisits sum, the next visit is the earliest", async () => {
  await using c = await cluster({ callTimeoutMs: 500 });
  let secondTasks: AssignmentStatus[] = [];
  const second = await startWorkerGrpc({
    hostname: "127.0.0.1",
    port: 0,
    workerId: "w2",
    tasks: () => secondTasks,
    ready: () => true,
  });
  const grpc = loadCrawlerMasterGrpc();
  const server = await startGrpcServer({
    master: c.master,
    hostname: "127.0.0.1",
    port: 0,
    grpc,
    view: c.view,
  });
  const client = new MasterGrpcClient(`127.0.0.1:${server.port}`, { grpc, timeoutMs: 3000 });
  try {
    await registerWorker(c.store, "w2", { port: second.port });
    const placements = [`w1|127.0.0.1:1`, `w2|127.0.0.1:${second.port}`];
    await c.store.put(
      resourceKey("news"),
      JSON.stringify({
        ID: "88",
        Name: "news",
        AssignedNode: placements[0],
        Placements: placements,
        CreationTime: 1,
        Spec: { ...spec, workers: 2 },
      }),
    );
    // The two workers read the shared frontier a moment apart: one still sees 3 pages due.
    c.setTasks([
      recrawling("88", { revisits: 600, notModified: 590, nextDueAt: 1_700_000_300_000 }, {
        scheduled: 1000,
        due: 3,
      }, "running"),
    ]);
    secondTasks = [
      recrawling("88", { revisits: 400, notModified: 395, nextDueAt: 1_700_000_200_000 }, {
        scheduled: 1000,
        due: 0,
      }),
    ];
    await c.view.poll();
    let view = await body(await c.app.request("/crawler/resource/news")) as unknown as TaskView;
    assert.equal(view.state, "running", "one worker still has pages due");
    assert.deepEqual(view.totals.recrawl, {
      revisits: 1000,
      notModified: 985,
      unchanged: 2,
      changed: 4,
      scheduled: 1000,
      due: 3,
      nextDueAt: 1_700_000_200_000,
    });
    assert.deepEqual(view.placements.map((p) => [p.workerId, p.state]), [
      ["w1", "running"],
      ["w2", "waiting"],
    ]);
    assert.equal(view.placements[1].counters?.recrawl?.revisits, 400);

    c.setTasks([
      recrawling("88", { revisits: 603, notModified: 593, nextDueAt: 1_700_000_300_000 }, {
        scheduled: 1000,
        due: 0,
      }),
    ]);
    await c.view.poll();
    view = await body(await c.app.request("/crawler/resource/news")) as unknown as TaskView;
    assert.equal(view.state, "waiting", "neither worker has anything due");
    assert.equal(view.totals.recrawl?.due, 0);
    const snapshot = await body(await c.app.request("/crawler/cluster")) as unknown as {
      tasks: TaskView[];
      workers: Array<{ id: string; running: number }>;
    };
    assert.equal(snapshot.tasks.find((t) => t.name === "news")?.state, "waiting");
    assert.deepEqual(
      snapshot.workers.map((w) => [w.id, w.running]),
      [["w1", 1], ["w2", 1]],
      "a task waiting for its next visit still runs on its worker",
    );

    // GetResource carries the same figures: revisits, schedule and the next visit.
    const detail = await client.getResource("news");
    assert.equal(detail.state, "waiting");
    assert.deepEqual(
      Object.fromEntries(
        Object.entries(detail.totals.recrawl ?? {}).map(([k, v]) => [k, String(v)]),
      ),
      {
        revisits: "1003",
        not_modified: "988",
        unchanged: "2",
        changed: "4",
        scheduled: "1000",
        due: "0",
        next_due_at: "1700000200000",
      },
    );
    assert.equal(detail.placements[1].counters?.recrawl?.revisits, "400");
    assert.equal(detail.totals.render, null, "a task that renders no page");
  } finally {
    client.close();
    await server.close();
    await second.close();
  }
});

Deno.test("GetResource's totals carry sitemap, render and stall figures", async () => {
  await using c = await cluster();
  const grpc = loadCrawlerMasterGrpc();
  const server = await startGrpcServer({
    master: c.master,
    hostname: "127.0.0.1",
    port: 0,
    grpc,
    view: c.view,
  });
  const client = new MasterGrpcClient(`127.0.0.1:${server.port}`, { grpc, timeoutMs: 3000 });
  try {
    await c.master.addResource({ name: "books", spec });
    const id = decodeResourceSpec((await c.store.get(resourceKey("books")))!.value).ID;
    const report = running(id, 10);
    const seconds = [0, 2, 8, 0, 0, 0, 0, 0, 0, 0, 1];
    const render = { rendered: 9, failed: 1, seconds, open: 2, restarts: 1 };
    c.setTasks([{
      ...report,
      stats: { ...report.stats!, sitemaps: 6, sitemapUrls: 10_100, render },
    }]);
    await c.view.poll();
    const { totals } = await client.getResource("books");
    assert.deepEqual(
      [totals.sitemaps, totals.sitemap_urls, totals.stalled].map(String),
      ["6", "10100", ""],
    );
    const wire = totals.render!;
    assert.deepEqual(
      [wire.rendered, wire.failed, wire.open, wire.restarts, ...wire.seconds].map(Number),
      [9, 1, 2, 1, ...render.seconds],
    );
    assert.equal(totals.recrawl, null, "a task that does not recrawl");
  } finally {
    client.close();
    await server.close();
  }
});
