import assert from "node:assert/strict";
import { fingerprintOf } from "./leader_writes.ts";

Deno.test("a write's fingerprint ignores key order and an empty id, not its operation or body", () => {
  const spec = { rule: "douban_book_list", url: "http://127.0.0.1:8088/", maxDepth: 2 };
  const add = fingerprintOf("add", { id: "zjx", name: "books", spec });
  assert.match(add, /^[0-9a-f]{64}$/);
  assert.equal(
    fingerprintOf("add", {
      spec: { maxDepth: 2, url: spec.url, rule: spec.rule },
      name: "books",
      id: "zjx",
    }),
    add,
    "however the JSON was ordered",
  );
  assert.equal(
    fingerprintOf("add", { id: "", name: "books" }),
    fingerprintOf("add", { name: "books" }),
  );
  assert.notEqual(fingerprintOf("add", { id: "other", name: "books", spec }), add);
  assert.notEqual(
    fingerprintOf("add", { id: "zjx", name: "books", spec: { ...spec, maxDepth: 3 } }),
    add,
  );
  assert.notEqual(
    fingerprintOf("pause", { name: "books" }),
    fingerprintOf("resume", { name: "books" }),
  );
});
