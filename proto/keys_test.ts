import assert from "node:assert/strict";
import { claimFromKey, claimKey, taskClaimsPrefix } from "./keys.ts";

Deno.test("a claim key names its task and worker and parses back", () => {
  const key = claimKey("books", "crawler.worker-1");
  assert.equal(key, "/crawler/claims/books/crawler.worker-1");
  assert.ok(key.startsWith(taskClaimsPrefix("books")));
  assert.deepEqual(claimFromKey(key), { task: "books", workerId: "crawler.worker-1" });
});

Deno.test("a claim key of a task whose name has a slash keeps the whole name", () => {
  assert.deepEqual(claimFromKey(claimKey("a/b", "w-2")), { task: "a/b", workerId: "w-2" });
  assert.equal(claimFromKey("/crawler/claims/books/"), undefined);
  assert.equal(claimFromKey("/crawler/claims/books"), undefined);
  assert.equal(claimFromKey("/resources/books"), undefined);
});
