import assert from "node:assert/strict";
import { openFileLimit, socketBudget } from "./open_file_limit.ts";

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            256                  524288               files
`;

Deno.test("the open-file limit is read from /proc/self/limits, the soft one", () => {
  assert.equal(openFileLimit(() => LIMITS), 256);
  assert.equal(openFileLimit(() => "nothing here"), undefined);
  assert.equal(
    openFileLimit(() => {
      throw new Error("no /proc");
    }),
    undefined,
  );
  // This process has one (Linux).
  assert.ok((openFileLimit() ?? 0) > 0);
});

Deno.test("the fetcher's sockets get half the descriptors", () => {
  assert.equal(socketBudget(256), 128);
  assert.equal(socketBudget(10), 8);
  assert.equal(socketBudget(undefined), undefined);
});
