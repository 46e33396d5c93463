/**
 * @module
 * The API token on real processes (docs/operating.md, "Auth"): two masters and a worker on a real
 * etcd, all started with `CRAWLER_TOKEN`. Every HTTP route but the probes and every gRPC call
 * refuse a missing or wrong token, on masters and workers; a write sent to the follower with the
 * right token reaches the leader (the follower forwards the caller's token). Without a token a
 * process refuses to listen beyond loopback, unless `--insecure`.
 */
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { tokenClientInterceptor } from "../auth/grpc_token.ts";
import { MasterGrpcClient } from "../master/grpc_client.ts";
import { UnauthenticatedError } from "../errors/mod.ts";
import { loadCrawlerWorkerGrpc, type WorkerStatusMessage } from "../proto/crawler_grpc.ts";
import {
  Cluster,
  http,
  runCrawler,
  startEtcd,
  startMaster,
  waitFor,
  writeConfig,
} from "./kit/mod.ts";

const TOKEN = "test-token-7f3a9c";
const spec = { rule: "douban_book_list", url: "http://127.0.0.1:1/books" };
const REFUSED = { error: "missing or invalid bearer token" };

/** `Status` on a worker's gRPC port, sending `token` (none when undefined). */
function workerStatus(
  port: number,
  token: string | undefined,
): { answer: Promise<{ code: grpc.status; id?: string }>; close(): void } {
  const definition = loadCrawlerWorkerGrpc();
  const client = new definition.Client(
    `127.0.0.1:${port}`,
    grpc.credentials.createInsecure(),
    token === undefined ? {} : { interceptors: [tokenClientInterceptor(token)] },
  ) as unknown as grpc.Client & {
    Status(
      request: unknown,
      options: grpc.CallOptions,
      callback: (error: grpc.ServiceError | null, answer: WorkerStatusMessage) => void,
    ): void;
  };
  const answer = new Promise<{ code: grpc.status; id?: string }>((resolve) =>
    client.Status(
      {},
      { deadline: Date.now() + 3000 },
      (error, status) =>
        resolve(error ? { code: error.code } : { code: grpc.status.OK, id: status.id }),
    )
  );
  return { answer, close: () => client.close() };
}

Deno.test("with a token, masters and workers refuse calls without it over HTTP and gRPC, and a follower forwards it", async (t) => {
  await using cluster = await Cluster.start({ masters: 2, workers: 1, token: TOKEN });
  const masters = [...cluster.masters.values()];
  const worker = cluster.workers.get(1)!;
  const grpcClients: Array<{ close(): void }> = [];
  try {
    const leader = await cluster.leader();
    const follower = masters.find((m) => m !== leader)!;

    await cluster.step(
      t,
      "a master's HTTP API: 401 without the token or with a wrong one",
      async () => {
        for (const master of masters) {
          for (
            const path of ["/crawler/resource", "/crawler/workers", "/crawler/leader", "/metrics"]
          ) {
            assert.deepEqual(await http(master.url(path)), { status: 401, body: REFUSED }, path);
            assert.deepEqual(
              await http(master.url(path), { token: "wrong" }),
              { status: 401, body: REFUSED },
              path,
            );
            assert.equal((await master.request(path)).status, 200, path);
          }
          const add = await http(master.url("/crawler/resource"), {
            method: "POST",
            json: { name: "sneaky", spec },
            token: `${TOKEN}x`,
          });
          assert.deepEqual(add, { status: 401, body: REFUSED });
          // The probes stay open for load balancers and orchestrators.
          assert.equal((await http(master.url("/healthz"))).status, 200);
          assert.equal((await http(master.url("/readyz"))).status, 200);
        }
        const { body } = await leader.request("/crawler/resource");
        assert.deepEqual(body.resources, [], "a refused add must not have created anything");
      },
    );

    await cluster.step(
      t,
      "a master's gRPC API: UNAUTHENTICATED without the token or with a wrong one",
      async () => {
        for (const master of masters) {
          for (const token of [undefined, "wrong"]) {
            const client = new MasterGrpcClient(`127.0.0.1:${master.grpcPort}`, {
              timeoutMs: 3000,
              token,
            });
            grpcClients.push(client);
            await assert.rejects(client.listResources(), (error) => {
              assert.ok(error instanceof UnauthenticatedError, String(error));
              assert.equal(error.message, REFUSED.error);
              return true;
            });
            await assert.rejects(
              client.addResource({ name: "sneaky", spec }),
              UnauthenticatedError,
            );
          }
          const client = new MasterGrpcClient(`127.0.0.1:${master.grpcPort}`, {
            timeoutMs: 3000,
            token: TOKEN,
          });
          grpcClients.push(client);
          assert.deepEqual(await client.listResources(), []);
        }
      },
    );

    await cluster.step(
      t,
      "writes sent to the follower with the token reach the leader",
      async () => {
        const added = await follower.request("/crawler/resource", {
          method: "POST",
          json: { name: "over-http", spec },
        });
        assert.deepEqual(added, {
          status: 200,
          body: { id: worker.id, Address: `127.0.0.1:${worker.grpcPort}` },
        });
        const client = new MasterGrpcClient(`127.0.0.1:${follower.grpcPort}`, {
          timeoutMs: 3000,
          token: TOKEN,
        });
        grpcClients.push(client);
        assert.equal((await client.addResource({ name: "over-grpc", spec })).id, worker.id);
        await waitFor(
          () =>
            leader.logs.filter((l) =>
              l.includes('"method":"CrawlerMaster.AddResource"') && l.includes(follower.id)
            ).length === 2,
          { what: "the leader to log both forwarded adds", timeoutMs: 5_000 },
        );
        const deleted = await follower.request("/crawler/resource", {
          method: "DELETE",
          json: { name: "over-http" },
        });
        assert.deepEqual(deleted, { status: 200, body: {} });
        const listed = await leader.request("/crawler/resource");
        assert.deepEqual(
          (listed.body.resources as Array<{ Name: string }>).map((r) => r.Name),
          ["over-grpc"],
        );
      },
    );

    await cluster.step(
      t,
      "a worker's HTTP and gRPC APIs refuse calls without the token",
      async () => {
        for (const path of ["/tasks", "/metrics"]) {
          assert.deepEqual(await http(worker.url(path)), { status: 401, body: REFUSED });
          assert.deepEqual(await http(worker.url(path), { token: "wrong" }), {
            status: 401,
            body: REFUSED,
          });
          assert.equal((await worker.request(path)).status, 200);
        }
        assert.equal((await http(worker.url("/healthz"))).status, 200);
        for (
          const [token, expected] of [
            [undefined, { code: grpc.status.UNAUTHENTICATED }],
            ["wrong", { code: grpc.status.UNAUTHENTICATED }],
            [TOKEN, { code: grpc.status.OK, id: worker.id }],
          ] as const
        ) {
          const call = workerStatus(worker.grpcPort, token);
          grpcClients.push(call);
          assert.deepEqual(await call.answer, expected, String(token));
        }
      },
    );

    await cluster.step(t, "no log line carries the token", () => {
      for (const process of cluster.processes) {
        assert.ok(!process.logs.some((line) => line.includes(TOKEN)), process.id);
      }
    });
  } catch (error) {
    cluster.dumpLogs();
    throw error;
  } finally {
    // gRPC clients first: Deno 2.9 handles a GOAWAY from a closing server badly (#36788).
    for (const client of grpcClients) client.close();
  }
});

Deno.test("without a token a master or worker refuses to listen beyond loopback, unless --insecure", async (t) => {
  await using etcd = await startEtcd();
  const dir = await Deno.makeTempDir({ prefix: "crawler_auth_policy_" });
  const config = await writeConfig(`${dir}/config.toml`, {
    storage: { sqlURL: `sqlite:${dir}/items.db` },
    frontier: { url: `sqlite:${dir}/frontier.db` },
    MasterServer: { ElectionTTL: 2 },
  });
  try {
    await t.step(
      "a master on every interface exits 2 naming auth.token and --insecure",
      async () => {
        const result = await runCrawler([
          "master",
          "--http=0.0.0.0:0",
          "--grpc=127.0.0.1:0",
          `--etcd=${etcd.endpoint}`,
          "--advertise=127.0.0.1",
          `--config=${config}`,
        ]);
        assert.equal(result.code, 2, result.stderr);
        assert.match(
          result.stderr,
          /^crawler: auth\.token: not set, and crawler master would listen on 0\.0\.0\.0:\d+ \(--http\)/,
        );
        assert.match(result.stderr, /CRAWLER_TOKEN/);
        assert.match(result.stderr, /--insecure/);
      },
    );

    await t.step("so does a worker whose gRPC port is on every interface", async () => {
      const result = await runCrawler([
        "worker",
        "--http=127.0.0.1:0",
        "--grpc=:0",
        `--etcd=${etcd.endpoint}`,
        `--config=${config}`,
      ]);
      assert.equal(result.code, 2, result.stderr);
      assert.match(
        result.stderr,
        /auth\.token: not set, and crawler worker would listen on 0\.0\.0\.0:\d+ \(--grpc\)/,
      );
    });

    await t.step(
      "with --insecure it serves without a token and says so in its log",
      async () => {
        const master = await startMaster({
          etcd: etcd.endpoint,
          config,
          host: "0.0.0.0",
          args: ["--insecure"],
        });
        try {
          await waitFor(
            async () => (await http(master.url("/crawler/leader"))).body.isLeader === true,
            { what: "the insecure master to lead", timeoutMs: 20_000 },
          );
          const warning = master.logs.find((line) => line.includes("INSECURE"));
          assert.ok(warning, master.logs.join("\n"));
          assert.match(warning, /"level":"WARN"/);
          assert.equal((await master.stop("SIGTERM")).code, 0);
        } finally {
          await master.stop("SIGKILL");
        }
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
