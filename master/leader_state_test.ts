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
