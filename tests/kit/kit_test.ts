/**
 * The test kit itself: waits that say what they waited for, and a cluster whose processes listen
 * on the ports they report.
 */
import assert from "node:assert/strict";
import { parse } from "smol-toml";
import { Cluster, holdsFor, mergeConfig, waitFor, waitForSteady, writeConfig } from "./mod.ts";

Deno.test("waitFor resolves with the first truthy value", async () => {
  let calls = 0;
  const value = await waitFor(() => ++calls >= 3 && { calls }, { what: "three calls" });
  assert.deepEqual(value, { calls: 3 });
});

Deno.test("waitFor's timeout names what it waited for and the last value or error it saw", async () => {
  await assert.rejects(
    waitFor(() => [1].length === 2, { what: "two workers", timeoutMs: 50 }),
    /^Error: timed out after 50 ms waiting for two workers; last saw the value false$/,
  );
  await assert.rejects(
    waitFor(() => {
      throw new TypeError("connection refused");
    }, { what: "the master to listen", timeoutMs: 50 }),
    (error: Error) => {
      assert.match(error.message, /waiting for the master to listen; last saw the error/);
      assert.match(error.message, /TypeError: connection refused/);
      assert.ok(error.cause instanceof TypeError);
      return true;
    },
  );
});

Deno.test("waitFor fails at once on a failed assertion", async () => {
  const startedAt = Date.now();
  await assert.rejects(
    waitFor(() => assert.equal(1, 2), { what: "never", timeoutMs: 10_000 }),
    assert.AssertionError,
  );
  assert.ok(Date.now() - startedAt < 1000);
});

Deno.test("waitForSteady waits until a value stops changing; holdsFor fails when it stops holding", async () => {
  let reads = 0;
  const { value } = await waitForSteady(() => Math.min(++reads, 5), {
    what: "reads to stop counting",
    forMs: 60,
  });
  assert.equal(value, 5);
  let ok = true;
  setTimeout(() => ok = false, 30);
  await assert.rejects(holdsFor(() => ok, { what: "ok", forMs: 5000 }), /ok stopped holding/);
});

Deno.test("configs are written from objects, merged section by section", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = mergeConfig(
      { fetcher: { concurrency: 2, proxy: ["http://127.0.0.1:1"] }, logLevel: "info" },
      { fetcher: { retries: 0, proxy: ["http://127.0.0.1:2"] } },
    );
    const path = await writeConfig(`${dir}/config.toml`, config);
    assert.deepEqual(structuredClone(parse(await Deno.readTextFile(path))), {
      fetcher: { concurrency: 2, proxy: ["http://127.0.0.1:2"], retries: 0 },
      logLevel: "info",
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a cluster's processes listen on the ports they report, and a worker registers", async () => {
  await using cluster = await Cluster.start({ masters: 2, workers: 1 });
  const leader = await cluster.leader();
  for (const master of cluster.masters.values()) {
    assert.match(master.id, new RegExp(`^master${master.n}-127\\.0\\.0\\.1:${master.grpcPort}$`));
    const { body } = await master.request("/crawler/leader");
    assert.equal(body.leader, leader.id);
  }
  const worker = cluster.workers.get(1)!;
  assert.equal(worker.id, "crawler.worker-1");
  assert.equal((await worker.request("/healthz")).status, 200);
  assert.deepEqual([...(await cluster.loads()).keys()], [worker.id]);
  assert.deepEqual(cluster.crashed, []);
});
