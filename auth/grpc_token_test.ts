import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { loadCrawlerWorkerGrpc, type WorkerStatusMessage } from "../proto/crawler_grpc.ts";
import { startWorkerGrpc } from "../worker/worker_grpc.ts";
import { tokenClientInterceptor } from "./grpc_token.ts";

const TOKEN = "tok-5678";

Deno.test("with a token, a gRPC call without it or with a wrong one is UNAUTHENTICATED", async () => {
  const definition = loadCrawlerWorkerGrpc();
  let served = 0;
  const server = await startWorkerGrpc({
    hostname: "127.0.0.1",
    port: 0,
    workerId: "w-1",
    tasks: () => {
      served++;
      return [];
    },
    ready: () => true,
    grpc: definition,
    token: TOKEN,
  });
  const clients: grpc.Client[] = [];
  const status = (token: string | undefined) => {
    const client = new definition.Client(
      `127.0.0.1:${server.port}`,
      grpc.credentials.createInsecure(),
      token === undefined ? {} : { interceptors: [tokenClientInterceptor(token)] },
    );
    clients.push(client);
    return new Promise<{ code: grpc.status; details: string; id?: string }>((resolve) =>
      (client as unknown as {
        Status: (
          r: unknown,
          o: grpc.CallOptions,
          cb: (e: grpc.ServiceError | null, a: WorkerStatusMessage) => void,
        ) => void;
      }).Status({}, { deadline: Date.now() + 3000 }, (error, answer) =>
        resolve(
          error
            ? { code: error.code, details: error.details }
            : { code: grpc.status.OK, details: "", id: answer.id },
        ))
    );
  };
  try {
    const none = await status(undefined);
    assert.deepEqual(none, {
      code: grpc.status.UNAUTHENTICATED,
      details: "missing or invalid bearer token",
    });
    assert.equal((await status("wrong")).code, grpc.status.UNAUTHENTICATED);
    assert.equal(served, 0, "the handler must not run for a refused call");
    assert.deepEqual(await status(TOKEN), { code: grpc.status.OK, details: "", id: "w-1" });
    assert.equal(served, 1);
  } finally {
    for (const client of clients) client.close();
    await server.close();
  }
});
