import assert from "node:assert/strict";
import { buildAssignedNode, parseAssignedNode } from "./assigned_node.ts";

Deno.test("assigned node is built as <workerId>|<address> and parses back", () => {
  const value = buildAssignedNode({ workerId: "crawler.worker-1", address: "10.0.0.5:9090" });
  assert.equal(value, "crawler.worker-1|10.0.0.5:9090");
  assert.deepEqual(parseAssignedNode(value), {
    workerId: "crawler.worker-1",
    address: "10.0.0.5:9090",
  });
});

Deno.test("assigned node reads the Go project's values", () => {
  assert.deepEqual(parseAssignedNode("go.micro.server.worker-1|192.168.0.105:9090"), {
    workerId: "go.micro.server.worker-1",
    address: "192.168.0.105:9090",
  });
  assert.deepEqual(parseAssignedNode("w|[::1]:9090"), { workerId: "w", address: "[::1]:9090" });
});

Deno.test("malformed assigned nodes parse as unassigned", () => {
  for (const value of ["", "worker-1", "|127.0.0.1:1", "worker-1|"]) {
    assert.equal(parseAssignedNode(value), undefined, value);
  }
});

Deno.test("an assigned node that could not be parsed back is refused", () => {
  assert.throws(() => buildAssignedNode({ workerId: "a|b", address: "h:1" }), RangeError);
  assert.throws(() => buildAssignedNode({ workerId: "", address: "h:1" }), RangeError);
  assert.throws(() => buildAssignedNode({ workerId: "w", address: "" }), RangeError);
});
