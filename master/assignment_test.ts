import assert from "node:assert/strict";
import { pickLeastLoaded } from "./assignment.ts";

Deno.test("the least-loaded worker is picked", () => {
  const picked = pickLeastLoaded([
    { id: "w1", payload: 3 },
    { id: "w2", payload: 1 },
    { id: "w3", payload: 2 },
  ]);
  assert.equal(picked?.id, "w2");
});

Deno.test("ties go to the smallest worker id, whatever the order", () => {
  const a = [{ id: "w2", payload: 1 }, { id: "w1", payload: 1 }, { id: "w3", payload: 1 }];
  assert.equal(pickLeastLoaded(a)?.id, "w1");
  assert.equal(pickLeastLoaded([...a].reverse())?.id, "w1");
});

Deno.test("no worker, no pick", () => {
  assert.equal(pickLeastLoaded([]), undefined);
});
