import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { loadCrawlerWorkerGrpc, type WorkerStatusMessage } from "../proto/crawler_grpc.ts";
import { startWorkerGrpc } from "./worker_grpc.ts";
import { workerReportFromMessage } from "../proto/worker_report.ts";
import type { AssignmentStatus } from "./cluster_worker.ts";

Deno.test("a worker answers Status over gRPC with its tasks and counters", async () => {
  const tasks: AssignmentStatus[] = [
    {
      name: "books",
      id: "1",
      state: "running",
      stats: {
        fetched: 12,
        failed: 1,
        retried: 0,
        items: 10,
        tooDeep: 0,
        duplicates: 0,
        disallowed: 0,
        throttled: 0,
        deferred: 0,
        exhausted: 0,
        sitemaps: 3,
        sitemapUrls: 250,
        queued: 4,
        inFlight: 2,
        frontier: { queued: 4, leased: 2, done: 12, failed: 1, scheduled: 0, due: 0 },
        startedAt: 0,
        render: {
          rendered: 9,
          failed: 1,
          seconds: [0, 2, 8, 0, 0, 0, 0, 0, 0, 0, 0],
          open: 2,
          restarts: 1,
        },
      },
    },
    { name: "mystery", id: "2", state: "unknown", error: 'unknown task "mystery"' },
  ];
  const recrawling: AssignmentStatus = {
    name: "news",
    id: "3",
    state: "waiting",
    stats: {
      ...tasks[0].stats!,
      render: undefined,
      frontier: { queued: 0, leased: 0, done: 0, failed: 0, scheduled: 1000, due: 0 },
      startedAt: 1,
      recrawl: {
        revisits: 1000,
        notModified: 990,
        unchanged: 5,
        changed: 5,
        nextDueAt: 1_700_000_192_000,
      },
    },
  };
  tasks.push(recrawling);
  const definition = loadCrawlerWorkerGrpc();
  const server = await startWorkerGrpc({
    hostname: "127.0.0.1",
    port: 0,
    workerId: "crawler.worker-1",
    tasks: () => tasks,
    ready: () => true,
    grpc: definition,
  });
  const client = new definition.Client(
    `127.0.0.1:${server.port}`,
    grpc.credentials.createInsecure(),
  );
  try {
    const status = await new Promise<WorkerStatusMessage>((resolve, reject) =>
      client.Status(
        {},
        { deadline: Date.now() + 3000 },
        (error: Error | null, answer: WorkerStatusMessage) =>
          error ? reject(error) : resolve(answer),
      )
    );
    assert.equal(status.id, "crawler.worker-1");
    assert.equal(status.ready, true);
    assert.deepEqual(
      status.tasks.map((t) => [t.name, t.state, String(t.fetched), String(t.in_flight), t.error]),
      [["books", "running", "12", "2", ""], [
        "mystery",
        "unknown",
        "0",
        "0",
        'unknown task "mystery"',
      ], ["news", "waiting", "12", "2", ""]],
    );
    assert.deepEqual(
      [String(status.tasks[0].sitemaps), String(status.tasks[0].sitemap_urls)],
      ["3", "250"],
      "sitemap counters travel to the masters' dashboard",
    );
    // So do a rendering task's browser figures; a task that renders nothing has none.
    const started = { ...status, tasks: [{ ...status.tasks[0], started_at: 1 }] };
    assert.deepEqual(
      workerReportFromMessage(started).tasks[0].stats?.render,
      tasks[0].stats?.render,
    );
    assert.equal(status.tasks[1].render, null);
    // A recrawl task's revisits and schedule travel too; a task that does not recrawl has none.
    const news = workerReportFromMessage(status).tasks[2].stats;
    assert.deepEqual(news?.recrawl, recrawling.stats?.recrawl);
    assert.deepEqual(news?.frontier, { scheduled: 1000, due: 0 });
    assert.equal(status.tasks[0].recrawl, null);
  } finally {
    // The client first: Deno 2.9 handles a GOAWAY from a closing server badly (denoland/deno#36788).
    client.close();
    await server.close();
  }
});

Deno.test("a worker gRPC port already in use is a clear error", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    await assert.rejects(
      startWorkerGrpc({
        hostname: "127.0.0.1",
        port: listener.addr.port,
        workerId: "w",
        tasks: () => [],
        ready: () => true,
      }),
      /cannot listen on 127\.0\.0\.1:\d+/,
    );
  } finally {
    listener.close();
  }
});
