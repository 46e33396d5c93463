import assert from "node:assert/strict";
import type { ResourceSpec } from "../proto/resource_spec.ts";
import { LeaderState } from "./leader_state.ts";

const worker = (id: string) => ({
  id,
  address: `127.0.0.1:${id.length}`,
  httpAddress: "127.0.0.1:1",
  startTime: "2024-01-01T00:00:00Z",
});
const resource = (name: string, workerId?: string): ResourceSpec => ({
  ID: "1",
  Name: name,
  AssignedNode: workerId ? `${workerId}|127.0.0.1:${workerId.length}` : "",
  CreationTime: 0,
});

Deno.test("payloads follow resources as they are set, moved and removed", () => {
  const state = new LeaderState([worker("w1"), worker("w2")], [
    resource("a", "w1"),
    resource("b", "w1"),
  ]);
  assert.deepEqual(state.workers().map((w) => [w.id, w.payload]), [["w1", 2], ["w2", 0]]);
  state.setResource(resource("a", "w2"));
  assert.deepEqual(state.workers().map((w) => [w.id, w.payload]), [["w1", 1], ["w2", 1]]);
  state.removeResource("b");
  assert.deepEqual(state.workers().map((w) => [w.id, w.payload]), [["w1", 0], ["w2", 1]]);
  assert.equal(state.leastLoadedWorker()?.id, "w1");
});

Deno.test("resources of a departed or unknown worker, or unassigned, are orphans", () => {
  const state = new LeaderState(
    [worker("w1"), worker("w2")],
    [resource("a", "w1"), resource("b", "w2"), resource("c"), resource("d", "gone")],
  );
  assert.deepEqual(state.orphans().map((r) => r.Name), ["c", "d"]);
  state.removeWorker("w2");
  assert.deepEqual(state.orphans().map((r) => r.Name), ["b", "c", "d"]);
  // A worker that comes back finds its count intact.
  state.putWorker(worker("w2"));
  assert.equal(state.worker("w2")?.payload, 1);
});

const placed = (name: string, workers: string[], wanted = 1, created = 0): ResourceSpec => ({
  ID: String(created + 1),
  Name: name,
  AssignedNode: workers[0] ? `${workers[0]}|127.0.0.1:${workers[0].length}` : "",
  ...(workers.length > 1 ? { Placements: workers.map((w) => `${w}|127.0.0.1:${w.length}`) } : {}),
  CreationTime: created,
  ...(wanted > 1 ? { Spec: { rule: "douban_book_list", workers: wanted } } : {}),
});

Deno.test("a task that wants N workers is placed on N distinct least-loaded workers", () => {
  const state = new LeaderState([worker("w1"), worker("w2"), worker("w3")], [placed("x", ["w1"])]);
  const plan = state.placementPlan(placed("a", [], 2));
  assert.deepEqual(plan?.Placements, ["w2|127.0.0.1:2", "w3|127.0.0.1:2"]);
  assert.equal(plan?.AssignedNode, "w2|127.0.0.1:2", "AssignedNode is the first placement");
  state.setResource(plan!);
  assert.deepEqual(state.workers().map((w) => w.payload), [1, 1, 1], "every placement counts");
  // More workers wanted than there are: every live worker, once.
  assert.deepEqual(state.placementPlan(placed("b", [], 5))?.Placements?.length, 3);
});

Deno.test("a worker in its grace period keeps its placements; after it they move", () => {
  const state = new LeaderState([worker("w1"), worker("w2")], [
    placed("a", ["w1", "w2"], 2),
    placed("b", ["w1"]),
  ]);
  state.removeWorker("w1", 1000);
  assert.deepEqual(state.orphans(), [], "nothing moves during the grace period");
  state.putWorker(worker("w1"));
  assert.deepEqual(state.departedWorkers(), [], "a worker back in time costs nothing");
  state.removeWorker("w1", 1000);
  state.putWorker(worker("w3"));
  assert.deepEqual(state.expireGrace(999), []);
  assert.deepEqual(state.expireGrace(1000), ["w1"]);
  assert.deepEqual(state.placementPlan(state.resource("a")!)?.Placements, [
    "w2|127.0.0.1:2",
    "w3|127.0.0.1:2",
  ]);
  assert.equal(state.placementPlan(state.resource("b")!)?.AssignedNode, "w3|127.0.0.1:2");
});

Deno.test("workers missing from a snapshot get the grace period too", () => {
  const state = new LeaderState([worker("w1")], [placed("a", ["w2"]), placed("b", ["w1"])]);
  assert.deepEqual(state.graceUnregistered(500), ["w2"]);
  assert.deepEqual(state.orphans(), []);
  state.putWorker(worker("w2"));
  assert.deepEqual(state.workers().map((w) => [w.id, w.payload]), [["w1", 1], ["w2", 1]]);
});

Deno.test("rebalancing moves the newest task from the busiest worker until loads are within one", () => {
  const resources = Array.from({ length: 6 }, (_, i) => placed(`t${i}`, ["w1"], 1, i));
  const state = new LeaderState([worker("w1"), worker("w2"), worker("w3")], resources);
  const moved: string[] = [];
  for (let move = state.nextMove(); move; move = state.nextMove()) {
    moved.push(`${move.resource.Name}:${move.from}->${move.to}`);
    state.setResource(move.resource);
  }
  assert.deepEqual(moved, ["t5:w1->w2", "t4:w1->w3", "t3:w1->w2", "t2:w1->w3"]);
  assert.deepEqual(state.workers().map((w) => w.payload), [2, 2, 2]);
  assert.equal(state.spread(), 0);
});

Deno.test("rebalancing waits while a worker is in its grace period", () => {
  const state = new LeaderState([worker("w1"), worker("w2"), worker("w3")], [
    placed("a", ["w1"]),
    placed("b", ["w1"]),
    placed("c", ["w1"]),
  ]);
  state.removeWorker("w3", 1000);
  assert.equal(state.nextMove(), undefined);
  state.expireGrace(1000);
  assert.equal(state.nextMove()?.to, "w2");
});

Deno.test("a task on several workers moves only to a worker that does not hold it", () => {
  const state = new LeaderState([worker("w1"), worker("w2"), worker("w3")], [
    placed("a", ["w1", "w2"], 2, 1),
    placed("b", ["w1", "w2"], 2, 2),
  ]);
  const move = state.nextMove();
  assert.equal(move?.resource.Name, "b");
  assert.deepEqual(move?.resource.Placements, ["w3|127.0.0.1:2", "w2|127.0.0.1:2"]);
});
