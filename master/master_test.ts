import assert from "node:assert/strict";
import { silentLogger } from "../log/logger.ts";
import { parseAssignedNode } from "../proto/assigned_node.ts";
import {
  ELECTION_PREFIX,
  IDEMPOTENCY_PREFIX,
  resourceKey,
  RESOURCES_PREFIX,
  WORKERS_PREFIX,
} from "../proto/keys.ts";
import {
  decodeResourceSpec,
  encodeResourceSpec,
  type ResourceSpec,
} from "../proto/resource_spec.ts";
import { loadCrawlerMasterGrpc } from "../proto/crawler_grpc.ts";
import { builtinRuleSets } from "../rulesets/mod.ts";
import type { EmbeddedStore } from "../store/embedded_store.ts";
import type { WriteOptions } from "../store/store.ts";
import {
  ConflictError,
  errorReply,
  IdempotencyKeyReusedError,
  NotFoundError,
  NotLeaderError,
  NoWorkerError,
} from "../errors/mod.ts";
import { GrpcLeaderClient, MasterGrpcClient } from "./grpc_client.ts";
import { type RunningGrpcServer, startGrpcServer } from "./grpc_server.ts";
import { Master, type MasterOptions } from "./master.ts";
import type { ForwardOptions } from "./leader_client.ts";
import type { AddResourceRequest, DeleteResourceRequest } from "../proto/api_bodies.ts";
import { freePort, openTestStore, registerWorker } from "./_testing.ts";
import { holdsFor, waitFor } from "../tests/kit/wait.ts";
import { isDeepStrictEqual as equal } from "node:util";

function newMaster(store: EmbeddedStore, options: Partial<MasterOptions> = {}): Master {
  return new Master({
    store,
    id: "master1-127.0.0.1:9091",
    electionTtlSeconds: 5,
    ruleSets: builtinRuleSets().keys(),
    logger: silentLogger,
    retryDelayMs: { initial: 10, max: 50 },
    workerGraceMs: 0,
    ...options,
  });
}

async function resources(store: EmbeddedStore): Promise<Map<string, ResourceSpec>> {
  const { kvs } = await store.getPrefix(RESOURCES_PREFIX);
  const decoded = kvs.map((kv) => decodeResourceSpec(kv.value));
  return new Map(decoded.map((r) => [r.Name, r]));
}

function workerOf(resource: ResourceSpec | undefined): string | undefined {
  return resource && parseAssignedNode(resource.AssignedNode)?.workerId;
}

function countByWorker(all: Map<string, ResourceSpec>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of all.values()) {
    const id = workerOf(r) ?? "";
    counts[id] = (counts[id] ?? 0) + 1;
  }
  return counts;
}

const spec = { rule: "douban_book_list" };

Deno.test("ten resources over two workers end five and five", async () => {
  await using store = await openTestStore();
  await registerWorker(store, "w1", { port: 9001 });
  await registerWorker(store, "w2", { port: 9002 });
  const master = newMaster(store);
  master.start();
  try {
    await waitFor(() => master.isLeader, { what: "the master to lead" });
    for (let i = 0; i < 10; i++) await master.addResource({ name: `task${i}`, spec });
    assert.deepEqual(countByWorker(await resources(store)), { w1: 5, w2: 5 });
    assert.deepEqual((await master.listWorkers()).map((w) => [w.id, w.payload]), [["w1", 5], [
      "w2",
      5,
    ]]);
  } finally {
    await master.stop();
  }
});

Deno.test("the leader reassigns the resources of a worker whose key disappears", async () => {
  await using store = await openTestStore();
  const w1 = await registerWorker(store, "w1", { port: 9001 });
  await registerWorker(store, "w2", { port: 9002 });
  const master = newMaster(store);
  master.start();
  try {
    await waitFor(() => master.isLeader, { what: "the master to lead" });
    for (let i = 0; i < 4; i++) await master.addResource({ name: `task${i}`, spec });
    const before = await resources(store);
    await w1.revoke(); // w1's registry key vanishes with its lease
    await waitFor(async () => countByWorker(await resources(store)).w2 === 4, {
      what: "w1's resources moving to w2",
    });
    const after = await resources(store);
    for (const [name, resource] of after) {
      assert.equal(resource.ID, before.get(name)?.ID, "a reassigned resource keeps its id");
    }
    assert.equal(after.get("task1")?.AssignedNode, "w2|127.0.0.1:9002");
    // New work goes to the remaining worker, and a worker that joins gets the next one.
    await registerWorker(store, "w3", { port: 9003 });
    await waitFor(async () => (await master.listWorkers()).length === 2, {
      what: "two workers listed",
    });
    assert.equal((await master.addResource({ name: "task9", spec })).id, "w3");
  } finally {
    await master.stop();
  }
});

Deno.test("orphans wait for a worker when none is left", async () => {
  await using store = await openTestStore();
  const w1 = await registerWorker(store, "w1");
  const master = newMaster(store);
  master.start();
  try {
    await waitFor(() => master.isLeader, { what: "the master to lead" });
    await master.addResource({ name: "a", spec });
    await w1.revoke();
    await waitFor(async () => (await master.listWorkers()).length === 0, {
      what: "no worker listed",
    });
    assert.equal(workerOf((await resources(store)).get("a")), "w1");
    await registerWorker(store, "w2");
    await waitFor(async () => workerOf((await resources(store)).get("a")) === "w2", {
      what: "the orphan moving to the new worker",
    });
  } finally {
    await master.stop();
  }
});

Deno.test("the leader adds missing presets when elected, and once a worker joins", async () => {
  await using store = await openTestStore();
  await store.put(
    resourceKey("kept"),
    encodeResourceSpec({ ID: "42", Name: "kept", AssignedNode: "gone|h:1", CreationTime: 1 }),
  );
  const master = newMaster(store, { presets: ["kept", "books_a", "books_b"] });
  master.start();
  try {
    await waitFor(() => master.isLeader, { what: "the master to lead" });
    // No worker yet: nothing can be assigned, so nothing is written for a while.
    await holdsFor(async () => (await resources(store)).size === 1, {
      what: "only the kept preset written",
      forMs: 50,
    });
    assert.deepEqual([...(await resources(store)).keys()], ["kept"]);
    await registerWorker(store, "w1");
    await waitFor(async () => (await resources(store)).size === 3, { what: "presets" });
    const all = await resources(store);
    assert.equal(all.get("kept")?.ID, "42", "an existing preset is kept, not re-added");
    assert.deepEqual(countByWorker(all), { w1: 3 });
    assert.equal(all.get("books_a")?.Spec, undefined, "presets carry no spec");
  } finally {
    await master.stop();
  }
});

Deno.test("resources of live workers keep their assignment across a leader change", async () => {
  await using store = await openTestStore();
  await registerWorker(store, "w1", { port: 9001 });
  await registerWorker(store, "w2", { port: 9002 });
  const first = newMaster(store, { id: "master1-127.0.0.1:9091" });
  const second = newMaster(store, { id: "master2-127.0.0.1:9092" });
  first.start();
  await waitFor(() => first.isLeader, { what: "the first master to lead" });
  second.start();
  try {
    for (let i = 0; i < 6; i++) await first.addResource({ name: `task${i}`, spec });
    const before = await resources(store);
    await waitFor(() => second.leaderId === first.id, {
      what: "the second master to know the first leads",
    });
    await first.stop(); // resigns: the second master is elected at once
    await waitFor(() => second.isLeader, { what: "the second master leading" });
    await second.addResource({ name: "task6", spec });
    const after = await resources(store);
    for (const [name, resource] of before) assert.deepEqual(after.get(name), resource, name);
    assert.deepEqual(countByWorker(after), { w1: 4, w2: 3 });
  } finally {
    await first.stop();
    await second.stop();
  }
});

Deno.test("a name written by another leader is a conflict, never a second add", async () => {
  await using store = await openTestStore();
  await registerWorker(store, "w1");
  const master = newMaster(store);
  master.start();
  try {
    await waitFor(() => master.isLeader, { what: "the master to lead" });
    await master.listResources(); // the state is loaded once requests are served
    const other = { ID: "7", Name: "raced", AssignedNode: "w1|127.0.0.1:9090", CreationTime: 1 };
    await store.put(resourceKey("raced"), encodeResourceSpec(other));
    await assert.rejects(master.addResource({ name: "raced", spec }), ConflictError);
    assert.equal((await resources(store)).get("raced")?.ID, "7");
    // The leader took the stored value in: it can now delete it.
    await master.deleteResource({ name: "raced" });
    // Without an idempotency key a repeated delete is judged on its own: nothing to delete.
    await assert.rejects(master.deleteResource({ name: "raced" }), NotFoundError);
    await assert.rejects(master.deleteResource({ name: "never_added" }), NotFoundError);
  } finally {
    await master.stop();
  }
});

Deno.test("a master that loses its election lease stops leading at once and campaigns again", async () => {
  await using store = await openTestStore();
  await registerWorker(store, "w1");
  const master = newMaster(store);
  master.start();
  try {
    await waitFor(() => master.isLeader, { what: "the master to lead" });
    const { kvs } = await store.getPrefix(`${ELECTION_PREFIX}/`);
    assert.equal(kvs.length, 1);
    const leaseId = BigInt(`0x${kvs[0].key.slice(ELECTION_PREFIX.length + 1)}`).toString();
    await store.revokeLease(leaseId);
    assert.equal(master.isLeader, false, "leadership ends with the lease, synchronously");
    await waitFor(() => master.isLeader, { what: "leadership again" });
    await master.addResource({ name: "after", spec });
  } finally {
    await master.stop();
  }
});

/** The master's election key (there is one master in these tests). */
async function electionKey(store: EmbeddedStore) {
  const { kvs } = await store.getPrefix(`${ELECTION_PREFIX}/`);
  assert.equal(kvs.length, 1);
  return kvs[0];
}

/** A refused guarded write: a 503 that says to retry, never a 500. */
function leadershipLost(error: unknown): boolean {
  assert.ok(error instanceof NotLeaderError, String(error));
  assert.equal(error.message, "leadership lost; retry");
  assert.equal(errorReply(error).status, 503);
  return true;
}

Deno.test("a leader whose election key vanishes writes nothing, answers 503 and campaigns again", async () => {
  await using store = await openTestStore();
  await registerWorker(store, "w1");
  const master = newMaster(store);
  master.start();
  try {
    await waitFor(() => master.isLeader, { what: "the master to lead" });
    await master.addResource({ name: "kept", spec });

    // The key goes behind the master's back (as when its lease expires during a pause): the
    // campaign does not notice, only the guard on the next write does.
    const first = await electionKey(store);
    await store.delete(first.key);
    assert.equal(master.isLeader, true, "the master has not noticed yet");
    const before = await store.getPrefix(RESOURCES_PREFIX);
    // A forwarded request is answered as it is (the forwarding master retries it): 503.
    const forwarded = { forwardedBy: "master2-127.0.0.1:9092" };
    await assert.rejects(master.addResource({ name: "new", spec }, forwarded), leadershipLost);
    assert.equal(master.isLeader, false, "the term ends with the refused write");
    assert.deepEqual((await store.getPrefix(RESOURCES_PREFIX)).kvs, before.kvs);
    await waitFor(() => master.isLeader, { what: "leadership again" });
    const second = await electionKey(store);
    assert.ok(second.createRevision > first.createRevision, "elected as a new candidate");

    await store.delete(second.key);
    await assert.rejects(master.deleteResource({ name: "kept" }, forwarded), leadershipLost);
    assert.equal(master.isLeader, false);
    assert.ok((await resources(store)).has("kept"), "the delete was not applied");

    // A client's own request is tried again until a new term answers it, applied once.
    await master.addResource({ name: "new", spec });
    const third = await electionKey(store);
    assert.ok(third.createRevision > second.createRevision, "answered by a new term");
    assert.ok((await store.get(resourceKey("new")))!.modRevision > third.createRevision);
    await store.delete(third.key);
    await master.deleteResource({ name: "kept" });
    assert.deepEqual([...(await resources(store)).keys()], ["new"]);
    await electionKey(store); // one candidacy left: the ended ones gave up their leases
  } finally {
    await master.stop();
  }
});

Deno.test("a reassignment by a leader whose election key vanished waits for its next term", async () => {
  await using store = await openTestStore();
  const w1 = await registerWorker(store, "w1", { port: 9001 });
  const master = newMaster(store);
  master.start();
  try {
    await waitFor(() => master.isLeader, { what: "the master to lead" });
    await master.addResource({ name: "a", spec });
    await registerWorker(store, "w2", { port: 9002 });
    await waitFor(async () => (await master.listWorkers()).length === 2, {
      what: "two workers listed",
    });
    const old = await electionKey(store);
    await store.delete(old.key);
    await w1.revoke(); // the leader's reassignment of "a" is refused, and it stands again
    await waitFor(async () => workerOf((await resources(store)).get("a")) === "w2", {
      what: "the orphan moving to w2",
    });
    const current = await electionKey(store);
    assert.ok(current.createRevision > old.createRevision);
    const moved = await store.get(resourceKey("a"));
    assert.ok(
      moved!.modRevision > current.createRevision,
      "the reassignment was written under the new election key, not the vanished one",
    );
  } finally {
    await master.stop();
  }
});

Deno.test("a follower forwards writes to the leader over gRPC and relays its errors", async () => {
  await using store = await openTestStore();
  await registerWorker(store, "w1");
  const grpc = loadCrawlerMasterGrpc();
  const leaderClient = new GrpcLeaderClient({ grpc });
  const servers: RunningGrpcServer[] = [];
  const masters: Master[] = [];
  try {
    for (const n of [1, 2]) {
      const port = freePort();
      const master = newMaster(store, { id: `master${n}-127.0.0.1:${port}`, leaderClient });
      servers.push(await startGrpcServer({ master, hostname: "127.0.0.1", port, grpc }));
      masters.push(master);
    }
    const [leader, follower] = masters;
    leader.start();
    await waitFor(() => leader.isLeader, { what: "the leader to lead" });
    follower.start();
    await waitFor(() => follower.leaderId === leader.id, {
      what: "the follower to know the leader",
    });

    assert.deepEqual(await follower.addResource({ name: "fwd", spec }), {
      id: "w1",
      Address: "127.0.0.1:9090",
    });
    assert.equal(workerOf((await resources(store)).get("fwd")), "w1");
    assert.equal((await follower.setPaused({ name: "fwd" }, true)).Paused, true);
    assert.equal((await resources(store)).get("fwd")?.Paused, true);
    await assert.rejects(follower.setPaused({ name: "nope" }, false), NotFoundError);
    await assert.rejects(follower.addResource({ name: "fwd", spec }), (error: Error) => {
      assert.ok(error instanceof ConflictError, String(error));
      assert.equal(error.message, 'resource "fwd" already exists');
      return true;
    });
    await follower.deleteResource({ name: "fwd" }, { idempotencyKey: "delete-fwd" });
    // Repeated with its key: answered as the first was. Without: there is nothing to delete.
    await follower.deleteResource({ name: "fwd" }, { idempotencyKey: "delete-fwd" });
    await assert.rejects(follower.deleteResource({ name: "fwd" }), NotFoundError);
    await assert.rejects(follower.deleteResource({ name: "never_added" }), NotFoundError);
    await assert.rejects(follower.addResource({ name: "unknown_preset" }), NotFoundError);

    // The same through the follower's gRPC API, as a client would.
    const client = new MasterGrpcClient(`127.0.0.1:${servers[1].port}`, { grpc, timeoutMs: 3000 });
    try {
      assert.equal((await client.addResource({ name: "via_grpc", spec })).id, "w1");
      assert.deepEqual(await client.getLeader(), {
        leader: leader.id,
        self: follower.id,
        isLeader: false,
      });
      assert.deepEqual((await client.listResources()).map((r) => r.Name), ["via_grpc"]);
      assert.deepEqual((await client.listWorkers()).map((w) => [w.id, w.payload]), [["w1", 1]]);
      await assert.rejects(client.addResource({ name: "via_grpc", spec }), ConflictError);
      // A task on several workers lists every placement over gRPC too.
      await registerWorker(store, "w2", { port: 9092 });
      await waitFor(async () => (await client.listWorkers()).length === 2, {
        what: "two workers listed",
      });
      await client.addResource({ name: "wide", spec: { ...spec, workers: 2 } });
      const wide = (await client.listResources()).find((r) => r.Name === "wide");
      assert.equal(wide?.Placements?.length, 2);
      assert.equal(wide?.AssignedNode, wide?.Placements?.[0]);
      await client.deleteResource({ name: "wide" });
    } finally {
      client.close();
    }
  } finally {
    // Clients before servers: in one process, a server that shuts down while a client session
    // of the same process is open can crash Deno 2.9's node:http2 (denoland/deno#36788).
    for (const master of masters) await master.stop();
    leaderClient.close();
    for (const server of servers) await server.close();
  }
});

Deno.test("a forwarded request reaching a follower is not forwarded again", async () => {
  await using store = await openTestStore();
  await registerWorker(store, "w1");
  const leader = newMaster(store, { id: "master1-127.0.0.1:9091" });
  const follower = newMaster(store, {
    id: "master2-127.0.0.1:9092",
    leaderClient: {
      addResource: () => Promise.reject(new Error("must not be called")),
      deleteResource: () => Promise.reject(new Error("must not be called")),
      setPaused: () => Promise.reject(new Error("must not be called")),
      close() {},
    },
  });
  leader.start();
  await waitFor(() => leader.isLeader, { what: "the leader to lead" });
  follower.start();
  try {
    await waitFor(() => follower.leaderId === leader.id, {
      what: "the follower to know the leader",
    });
    await assert.rejects(
      follower.addResource({ name: "loop", spec }, { forwardedBy: "master3-127.0.0.1:9093" }),
      (error: Error) => {
        assert.ok(error instanceof NotLeaderError);
        assert.match(error.message, /not forwarded again/);
        return true;
      },
    );
    // The leader serves a forwarded request itself.
    const node = await leader.addResource({ name: "loop", spec }, { forwardedBy: follower.id });
    assert.equal(node.id, "w1");
  } finally {
    await follower.stop();
    await leader.stop();
  }
});

Deno.test("a preset a user deleted stays deleted while the leader leads", async () => {
  await using store = await openTestStore();
  await registerWorker(store, "w1");
  const master = newMaster(store, { presets: ["books_a"] });
  master.start();
  try {
    await waitFor(async () => (await resources(store)).has("books_a"), { what: "the preset" });
    await master.deleteResource({ name: "books_a" });
    await registerWorker(store, "w2"); // a worker event runs the leader's reconciliation
    await waitFor(async () => (await master.listWorkers()).length === 2, {
      what: "two workers listed",
    });
    await master.addResource({ name: "other", spec }); // served after the worker event
    assert.equal((await resources(store)).has("books_a"), false);
    // It can be added back by name: it is a preset.
    assert.equal((await master.addResource({ name: "books_a" })).id, "w2");
  } finally {
    await master.stop();
  }
});

Deno.test("the leader follows resources written by others and reassigns orphans among them", async () => {
  await using store = await openTestStore();
  await registerWorker(store, "w1", { port: 9001 });
  const master = newMaster(store);
  master.start();
  try {
    await waitFor(() => master.isLeader, { what: "the master to lead" });
    // Written straight into the store, assigned to a worker that is not there.
    await store.put(
      resourceKey("external"),
      encodeResourceSpec({
        ID: "7",
        Name: "external",
        AssignedNode: "gone|127.0.0.1:1",
        CreationTime: 1,
      }),
    );
    await waitFor(async () => workerOf((await resources(store)).get("external")) === "w1", {
      what: "external on w1",
    });
    assert.deepEqual((await master.listWorkers()).map((w) => [w.id, w.payload]), [["w1", 1]]);
    // Deleted behind the leader's back: a new add of the name is not a conflict.
    await store.delete(resourceKey("external"));
    await waitFor(async () => (await master.listWorkers())[0].payload === 0, {
      what: "the worker's payload to drop to 0",
    });
    await master.addResource({ name: "external", spec });
  } finally {
    await master.stop();
  }
});

Deno.test("a worker that registers again within its grace period keeps its tasks", async () => {
  await using store = await openTestStore();
  const w1 = await registerWorker(store, "w1", { port: 9001 });
  await registerWorker(store, "w2", { port: 9002 });
  const master = newMaster(store, { workerGraceMs: 400, rebalance: { enabled: false } });
  master.start();
  try {
    await waitFor(() => master.isLeader, { what: "the master to lead" });
    for (let i = 0; i < 4; i++) await master.addResource({ name: `task${i}`, spec });
    const before = await resources(store);
    await w1.revoke();
    await registerWorker(store, "w1", { port: 9001 }); // back at once, on a new lease
    // Past the grace period (400 ms), nothing moved.
    await holdsFor(async () => equal(await resources(store), before), {
      what: "nothing moved",
      forMs: 600,
    });
    // Gone for good: its tasks move once the grace period is over, not before.
    const w1Again = (await store.getPrefix("/crawler/workers/w1")).kvs[0].lease!;
    await store.revokeLease(w1Again);
    const goneAt = Date.now();
    await waitFor(async () => countByWorker(await resources(store)).w2 === 4, {
      what: "w1's tasks moving to w2",
    });
    assert.ok(Date.now() - goneAt >= 350, `moved after ${Date.now() - goneAt} ms`);
  } finally {
    await master.stop();
  }
});

Deno.test("a new leader gives workers missing from its first read the grace period", async () => {
  await using store = await openTestStore();
  // Resources on three workers, of which only w1 is registered when the leader loads (as after
  // an etcd restart, when the others register again a moment later).
  for (let i = 0; i < 9; i++) {
    const worker = `w${(i % 3) + 1}`;
    await store.put(
      resourceKey(`t${i}`),
      encodeResourceSpec({
        ID: String(i + 1),
        Name: `t${i}`,
        AssignedNode: `${worker}|127.0.0.1:${9001 + (i % 3)}`,
        CreationTime: 1,
      }),
    );
  }
  await registerWorker(store, "w1", { port: 9001 });
  const master = newMaster(store, { workerGraceMs: 1000 });
  master.start();
  try {
    await waitFor(() => master.isLeader, { what: "the master to lead" });
    await master.listResources();
    await registerWorker(store, "w2", { port: 9002 });
    await registerWorker(store, "w3", { port: 9003 });
    // Past the grace period (1 s), nothing moved: they came back within it.
    await holdsFor(
      async () => equal(countByWorker(await resources(store)), { w1: 3, w2: 3, w3: 3 }),
      {
        what: "three tasks on each worker",
        forMs: 1300,
      },
    );
  } finally {
    await master.stop();
  }
});

Deno.test("a worker that joins gets its share: the leader moves tasks until loads are within one", async () => {
  await using store = await openTestStore();
  await registerWorker(store, "w1", { port: 9001 });
  const master = newMaster(store, { rebalance: { intervalMs: 50, maxMoves: 2 } });
  master.start();
  try {
    await waitFor(() => master.isLeader, { what: "the master to lead" });
    for (let i = 0; i < 9; i++) await master.addResource({ name: `task${i}`, spec });
    await registerWorker(store, "w2", { port: 9002 });
    await registerWorker(store, "w3", { port: 9003 });
    await waitFor(async () => {
      const counts = Object.values(countByWorker(await resources(store)));
      return counts.length === 3 && counts.every((n) => n === 3);
    }, { what: "loads of 3, 3 and 3" });
    // The oldest tasks stayed where they were: the newest moved (they crawled least).
    const all = await resources(store);
    for (let i = 0; i < 3; i++) assert.equal(workerOf(all.get(`task${i}`)), "w1");
  } finally {
    await master.stop();
  }
});

Deno.test("with rebalancing off, a worker that joins gets only new tasks", async () => {
  await using store = await openTestStore();
  await registerWorker(store, "w1", { port: 9001 });
  const master = newMaster(store, { rebalance: { enabled: false, intervalMs: 20 } });
  master.start();
  try {
    await waitFor(() => master.isLeader, { what: "the master to lead" });
    for (let i = 0; i < 4; i++) await master.addResource({ name: `task${i}`, spec });
    await registerWorker(store, "w2", { port: 9002 });
    await waitFor(async () => (await master.listWorkers()).length === 2, {
      what: "two workers listed",
    });
    // Nothing moves to the new worker for a while (rebalancing rounds would run every 20 ms).
    await holdsFor(async () => equal(countByWorker(await resources(store)), { w1: 4 }), {
      what: "every task on w1",
      forMs: 200,
    });
    await master.addResource({ name: "new", spec });
    assert.equal(workerOf((await resources(store)).get("new")), "w2");
  } finally {
    await master.stop();
  }
});

Deno.test("a task with workers: 2 runs on two workers; a dead one is replaced, a new one fills in", async () => {
  await using store = await openTestStore();
  const w1 = await registerWorker(store, "w1", { port: 9001 });
  await registerWorker(store, "w2", { port: 9002 });
  const master = newMaster(store, { rebalance: { enabled: false } });
  master.start();
  try {
    await waitFor(() => master.isLeader, { what: "the master to lead" });
    await master.addResource({ name: "other", spec });
    const node = await master.addResource({ name: "wide", spec: { ...spec, workers: 2 } });
    assert.equal(node.id, "w2", "the least-loaded worker comes first");
    let wide = (await resources(store)).get("wide")!;
    assert.deepEqual(wide.Placements, ["w2|127.0.0.1:9002", "w1|127.0.0.1:9001"]);
    assert.equal(wide.AssignedNode, "w2|127.0.0.1:9002");
    assert.deepEqual((await master.listWorkers()).map((w) => w.payload), [2, 1]);

    // w1 dies: its placement moves to w3, the free worker; w2's stays.
    await registerWorker(store, "w3", { port: 9003 });
    await w1.revoke();
    await waitFor(async () => {
      wide = (await resources(store)).get("wide")!;
      return wide.Placements?.includes("w3|127.0.0.1:9003") === true;
    }, { what: "a replacement placement" });
    assert.deepEqual(wide.Placements, ["w2|127.0.0.1:9002", "w3|127.0.0.1:9003"]);
  } finally {
    await master.stop();
  }
});

Deno.test("a task that wants more workers than there are gets the next one that joins", async () => {
  await using store = await openTestStore();
  await registerWorker(store, "w1", { port: 9001 });
  const master = newMaster(store, { rebalance: { enabled: false } });
  master.start();
  try {
    await waitFor(() => master.isLeader, { what: "the master to lead" });
    await master.addResource({ name: "wide", spec: { ...spec, workers: 3 } });
    assert.equal((await resources(store)).get("wide")?.Placements, undefined);
    await registerWorker(store, "w2", { port: 9002 });
    await waitFor(async () => (await resources(store)).get("wide")?.Placements?.length === 2, {
      what: "wide placed twice",
    });
  } finally {
    await master.stop();
  }
});

Deno.test("workers > 1 without a shared frontier is a 400 that says why", async () => {
  await using store = await openTestStore();
  await registerWorker(store, "w1");
  const master = newMaster(store, { multiWorkerRefusal: "the frontier is not shared" });
  master.start();
  try {
    await waitFor(() => master.isLeader, { what: "the master to lead" });
    await assert.rejects(
      master.addResource({ name: "wide", spec: { ...spec, workers: 2 } }),
      (error: Error) => {
        assert.equal(errorReply(error).status, 400);
        assert.equal(error.message, "spec.workers: the frontier is not shared");
        return true;
      },
    );
    await master.addResource({ name: "narrow", spec: { ...spec, workers: 1 } });
  } finally {
    await master.stop();
  }
});

Deno.test("an add repeated with the same id is a conflict; with the same idempotency key it answers its placement", async () => {
  await using store = await openTestStore();
  await registerWorker(store, "w1", { port: 9001 });
  await registerWorker(store, "w2", { port: 9002 });
  const master = newMaster(store);
  master.start();
  try {
    await waitFor(() => master.isLeader, { what: "the master to lead" });
    const first = await master.addResource({ id: "c1", name: "t", spec }, { idempotencyKey: "k1" });
    await master.addResource({ name: "u", spec }); // so "least loaded" now differs
    assert.deepEqual(
      await master.addResource({ id: "c1", name: "t", spec }, { idempotencyKey: "k1" }),
      first,
    );
    await assert.rejects(master.addResource({ id: "c1", name: "t", spec }), ConflictError);
    await assert.rejects(master.addResource({ name: "t", spec }), ConflictError);
    await assert.rejects(
      master.addResource({ id: "c1", name: "t", spec: { ...spec, maxDepth: 1 } }, {
        idempotencyKey: "k1",
      }),
      IdempotencyKeyReusedError,
    );
    assert.equal((await resources(store)).size, 2);
  } finally {
    await master.stop();
  }
});

Deno.test("idempotency keys outlive a leader change, are forgotten after the window and pruned", async () => {
  await using store = await openTestStore();
  await registerWorker(store, "w1", { port: 9001 });
  let now = 1_700_000_000_000;
  const clock = () => now;
  const options = { clock, idempotencyWindowMs: 60_000 };
  const first = newMaster(store, { ...options, id: "master1-127.0.0.1:9091" });
  first.start();
  await waitFor(() => first.isLeader, { what: "the first master to lead" });
  const added = await first.addResource({ name: "t", spec }, { idempotencyKey: "add-t" });
  await first.deleteResource({ name: "t" }, { idempotencyKey: "delete-t" });
  await assert.rejects(
    first.deleteResource({ name: "gone" }, { idempotencyKey: "delete-gone" }),
    NotFoundError,
  );
  await first.stop();
  const second = newMaster(store, { ...options, id: "master2-127.0.0.1:9092" });
  second.start();
  try {
    await waitFor(() => second.isLeader, { what: "the second master to lead" });
    // The new leader answers each key as the old one did, refusals included.
    assert.deepEqual(
      await second.addResource({ name: "t", spec }, { idempotencyKey: "add-t" }),
      added,
    );
    await second.deleteResource({ name: "t" }, { idempotencyKey: "delete-t" });
    await assert.rejects(
      second.deleteResource({ name: "gone" }, { idempotencyKey: "delete-gone" }),
      NotFoundError,
    );
    assert.equal((await resources(store)).size, 0, "the repeated add was not applied again");
    // Past the window the key is a new write's: the add is made again, and old records go.
    now += 60_000;
    assert.deepEqual(
      await second.addResource({ name: "t", spec }, { idempotencyKey: "add-t" }),
      added,
    );
    assert.equal((await resources(store)).size, 1);
    await waitFor(async () => (await store.getPrefix(IDEMPOTENCY_PREFIX)).kvs.length === 1, {
      what: "the expired records to be pruned",
    });
    assert.equal(
      (await store.getPrefix(IDEMPOTENCY_PREFIX)).kvs[0].key,
      "/crawler/idempotency/add-t",
    );
  } finally {
    await second.stop();
  }
});

Deno.test("an add is placed on a worker the registry lists before the leader's watch reports it", async () => {
  await using store = await openTestStore();
  // A watch of the registry that reports nothing: the leader knows only what it reads.
  const silentRegistry = new Proxy(store, {
    get(target, property) {
      if (property === "watchPrefix") {
        return (prefix: string, options: { signal?: AbortSignal } = {}) =>
          prefix === WORKERS_PREFIX
            ? (async function* () {
              await new Promise((resolve) => options.signal?.addEventListener("abort", resolve));
              yield* []; // ends when the watch is cancelled, having reported nothing
            })()
            : target.watchPrefix(prefix, options);
      }
      const value = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const master = newMaster(store, { store: silentRegistry, presets: ["douban_book_list"] });
  master.start();
  try {
    await waitFor(() => master.isLeader, { what: "the master to lead" });
    await master.listResources(); // loaded, with no worker
    await registerWorker(store, "w1");
    assert.equal((await master.addResource({ name: "t", spec })).id, "w1");
    // What a join would have done follows: the preset that waited for a worker is added.
    await waitFor(
      async () => workerOf((await resources(store)).get("douban_book_list")) === "w1",
      {
        what: "the preset to be placed",
      },
    );
  } finally {
    await master.stop();
  }
});

Deno.test("a write refused for want of a worker is not recorded: its retry is judged afresh", async () => {
  await using store = await openTestStore();
  const master = newMaster(store);
  master.start();
  try {
    await waitFor(() => master.isLeader, { what: "the master to lead" });
    await assert.rejects(
      master.addResource({ name: "t", spec }, { idempotencyKey: "k" }),
      NoWorkerError,
    );
    await registerWorker(store, "w1");
    assert.equal((await master.addResource({ name: "t", spec }, { idempotencyKey: "k" })).id, "w1");
  } finally {
    await master.stop();
  }
});

Deno.test("a forwarded write whose answer was lost is tried again and applied once", async () => {
  await using store = await openTestStore();
  await registerWorker(store, "w1");
  const leader = newMaster(store, { id: "master1-127.0.0.1:9091" });
  const calls: string[] = [];
  // The leader applies each first call, but its answer never reaches the follower.
  const lossy = (answered: Set<string>) => ({
    addResource: async (_: string, request: AddResourceRequest, options: ForwardOptions) => {
      calls.push(`add ${request.name} ${options.idempotencyKey}`);
      const node = await leader.addResource(request, options);
      if (answered.has(request.name)) return node;
      answered.add(request.name);
      throw new NotLeaderError("the leader did not answer: connection reset");
    },
    deleteResource: async (_: string, request: DeleteResourceRequest, options: ForwardOptions) => {
      calls.push(`delete ${request.name} ${options.idempotencyKey}`);
      await leader.deleteResource(request, options);
      if (answered.has(`-${request.name}`)) return;
      answered.add(`-${request.name}`);
      throw new NotLeaderError("the leader did not answer: connection reset");
    },
    setPaused: () => Promise.reject(new Error("not used here")),
    close() {},
  });
  const follower = newMaster(store, {
    id: "master2-127.0.0.1:9092",
    leaderClient: lossy(new Set()),
  });
  leader.start();
  await waitFor(() => leader.isLeader, { what: "the leader to lead" });
  follower.start();
  try {
    await waitFor(() => follower.leaderId === leader.id, {
      what: "the follower to know the leader",
    });
    assert.equal((await follower.addResource({ name: "once", spec })).id, "w1");
    assert.equal(calls.length, 2);
    assert.equal(calls[0], calls[1], "the retry carries the same idempotency key");
    assert.match(calls[0], /^add once [0-9a-f]{32}$/, "the follower gave the write a key");
    assert.equal((await resources(store)).size, 1);
    // The retry of a delete whose answer was lost is told it is done, not 404.
    await follower.deleteResource({ name: "once" });
    assert.equal(calls.length, 4);
    assert.equal(calls[2], calls[3]);
    assert.equal((await resources(store)).size, 0);
    // A client's own key is what the follower sends, on every try.
    await follower.addResource({ name: "twice", spec }, { idempotencyKey: "client-key" });
    assert.deepEqual(calls.slice(4), ["add twice client-key", "add twice client-key"]);
  } finally {
    await follower.stop();
    await leader.stop();
  }
});

Deno.test("a preset with Workers = 2 is placed on two workers", async () => {
  await using store = await openTestStore();
  await registerWorker(store, "w1", { port: 9001 });
  await registerWorker(store, "w2", { port: 9002 });
  const master = newMaster(store, {
    presets: ["books_a"],
    presetWorkers: new Map([["books_a", 2]]),
  });
  master.start();
  try {
    await waitFor(async () => (await resources(store)).has("books_a"), { what: "the preset" });
    assert.deepEqual((await resources(store)).get("books_a")?.Placements, [
      "w1|127.0.0.1:9001",
      "w2|127.0.0.1:9002",
    ]);
  } finally {
    await master.stop();
  }
});

Deno.test("a request whose caller gave up while it waited for the leader is not applied", async () => {
  await using store = await openTestStore();
  await registerWorker(store, "w1");
  // A store whose create of "slow" waits until released: the leader's mutex is held meanwhile.
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let holding = false;
  const slowStore = new Proxy(store, {
    get(target, property) {
      if (property === "create") {
        return async (key: string, value: string, options?: WriteOptions) => {
          if (key === resourceKey("slow")) {
            holding = true;
            await held;
          }
          return await target.create(key, value, options);
        };
      }
      const value = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const master = newMaster(store, { store: slowStore });
  master.start();
  try {
    await waitFor(() => master.isLeader, { what: "the master to lead" });
    await master.listResources();
    const slow = master.addResource({ name: "slow", spec });
    await waitFor(() => holding, { what: "the slow create to hold the mutex" });
    const caller = new AbortController();
    const late = master.addResource({ name: "late", spec }, {
      forwardedBy: "master2-127.0.0.1:9092",
      signal: caller.signal,
    });
    // Everything before the mutex runs on promises already settled: one turn of the event
    // loop, and `late` waits for the mutex.
    await new Promise((resolve) => setTimeout(resolve, 0));
    caller.abort(new Error("the caller cancelled the call"));
    release();
    await slow;
    await assert.rejects(late, (error: Error) => {
      assert.ok(error instanceof NotLeaderError);
      assert.equal(error.message, "the caller gave up waiting; nothing was applied");
      return true;
    });
    assert.deepEqual([...(await resources(store)).keys()], ["slow"]);
  } finally {
    await master.stop();
  }
});
