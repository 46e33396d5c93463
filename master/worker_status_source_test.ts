import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { loadCrawlerWorkerGrpc, type WorkerStatusMessage } from "../proto/crawler_grpc.ts";
import { grpcCloser, listenGrpc } from "../proto/grpc_listen.ts";
import { type WorkerReport, workerReportToMessage } from "../proto/worker_report.ts";
import { GrpcWorkerStatusSource } from "./worker_status_source.ts";

const report: WorkerReport = {
  id: "w1",
  ready: true,
  tasks: [
    {
      name: "books",
      id: "42",
      state: "running",
      stats: {
        fetched: 7,
        failed: 1,
        retried: 2,
        items: 6,
        queued: 30,
        inFlight: 3,
        leased: 3,
        startedAt: 1_700_000_000_000,
      },
      activity: {
        errors: [{ url: "http://a.test/x", error: "HTTP 404", at: 1_700_000_000_500 }],
        hosts: [{ host: "a.test", fetched: 7, failed: 1 }],
      },
    },
    { name: "asleep", id: "43", state: "paused" },
  ],
};

Deno.test("a worker's status arrives over gRPC whole, with the token when one is set", async () => {
  const seen: Array<string | undefined> = [];
  const { service } = loadCrawlerWorkerGrpc();
  const server = new grpc.Server();
  server.addService(service, {
    Status: (
      call: grpc.ServerUnaryCall<unknown, WorkerStatusMessage>,
      callback: grpc.sendUnaryData<WorkerStatusMessage>,
    ) => {
      const header = call.metadata.get("authorization")[0];
      seen.push(typeof header === "string" ? header : undefined);
      callback(null, workerReportToMessage(report));
    },
  });
  const port = await listenGrpc(server, "127.0.0.1", 0);
  const worker = { id: "w1", address: `127.0.0.1:${port}` };
  const plain = new GrpcWorkerStatusSource();
  const withToken = new GrpcWorkerStatusSource({ token: "s3cret" });
  try {
    assert.deepEqual(await plain.status(worker, { timeoutMs: 3000 }), report);
    await withToken.status(worker, { timeoutMs: 3000 });
    assert.deepEqual(seen, [undefined, "Bearer s3cret"]);
  } finally {
    plain.close(); // clients before the server (denoland/deno#36788)
    withToken.close();
    await grpcCloser(server, 1000)();
  }
});

Deno.test("a worker that is not there fails the call within its deadline, naming the worker", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const source = new GrpcWorkerStatusSource();
  try {
    await assert.rejects(
      source.status({ id: "gone", address: `127.0.0.1:${port}` }, { timeoutMs: 500 }),
      /worker gone at 127\.0\.0\.1:\d+/,
    );
  } finally {
    source.close();
  }
});
