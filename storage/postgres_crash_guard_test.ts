import assert from "node:assert/strict";
import { installPostgresCrashGuard, isPostgresClientError } from "./postgres_crash_guard.ts";

/** An error whose stack says it was thrown at `frame`. */
function thrownAt(frame: string, message = "Cannot read properties of null (reading 'write')") {
  const error = new TypeError(message);
  error.stack = `TypeError: ${message}\n    at nextWrite (${frame})\n    at Immediate.<anonymous>`;
  return error;
}

const NPM_CACHE =
  "file:///root/.cache/deno/npm/registry.npmjs.org/postgres/3.4.9/src/connection.js:255:24";
const NODE_MODULES =
  "file:///app/node_modules/.deno/postgres@3.4.9/node_modules/postgres/src/connection.js:255:24";
const CJS = "/app/node_modules/postgres/cjs/src/connection.js:255:24";

Deno.test("an error thrown from the Postgres client's connection code is recognised", () => {
  for (const frame of [NPM_CACHE, NODE_MODULES, CJS]) {
    assert.ok(isPostgresClientError(thrownAt(frame)), frame);
  }
  // Our code, another package, a file merely named alike, a value that is no error.
  assert.ok(!isPostgresClientError(thrownAt("file:///work/main/storage/postgres_sink.ts:10:3")));
  assert.ok(!isPostgresClientError(thrownAt("file:///app/node_modules/pg/lib/connection.js:1:1")));
  assert.ok(!isPostgresClientError(thrownAt("file:///app/my_postgres/src/connection.js:1:1")));
  assert.ok(!isPostgresClientError("postgres/3.4.9/src/connection.js"));
  assert.ok(!isPostgresClientError(undefined));
  // A query's own failure reaches its caller (with the query attached): one left unhandled is
  // our mistake and stays loud.
  const queryError = thrownAt(NPM_CACHE, "relation does not exist");
  Object.defineProperty(queryError, "query", { value: "select 1" });
  assert.ok(!isPostgresClientError(queryError));
});

Deno.test("the guard keeps the client's uncaught errors from ending the process, and no others", () => {
  const target = new EventTarget();
  const seen: unknown[] = [];
  const guard = installPostgresCrashGuard({ onClientError: (e) => seen.push(e), target });
  try {
    const clientError = thrownAt(NPM_CACHE);
    const uncaught = new ErrorEvent("error", { error: clientError, cancelable: true });
    target.dispatchEvent(uncaught);
    assert.ok(uncaught.defaultPrevented);
    const rejected = Promise.reject(clientError);
    rejected.catch(() => {});
    const rejection = new PromiseRejectionEvent("unhandledrejection", {
      promise: rejected,
      reason: clientError,
      cancelable: true,
    });
    target.dispatchEvent(rejection);
    assert.ok(rejection.defaultPrevented);
    assert.deepEqual(seen, [clientError, clientError]);

    const ours = new ErrorEvent("error", { error: new Error("ours"), cancelable: true });
    target.dispatchEvent(ours);
    assert.ok(!ours.defaultPrevented, "any other error still ends the process");
    assert.equal(seen.length, 2);
  } finally {
    guard[Symbol.dispose]();
  }
  const after = new ErrorEvent("error", { error: thrownAt(NPM_CACHE), cancelable: true });
  target.dispatchEvent(after);
  assert.ok(!after.defaultPrevented, "disposed: the guard no longer listens");
});

Deno.test("a process survives a throw from a setImmediate inside the client and resets its pools; it still dies of any other", async () => {
  const dir = await Deno.makeTempDir({ prefix: "crawler_guard_" });
  try {
    // A stand-in for postgres.js: the same file path, and its bug — a write to a socket that
    // is gone, from a setImmediate, and a cleanup of it in an async handler.
    const client = `${dir}/postgres/3.4.9/src`;
    await Deno.mkdir(client, { recursive: true });
    await Deno.writeTextFile(
      `${client}/connection.js`,
      `export function nextWriteLater() {
  const socket = null;
  setImmediate(function nextWrite() { socket.write("x"); });
}
export async function closed() {
  const socket = null;
  socket.removeAllListeners();
}
`,
    );
    const repo = new URL("../", import.meta.url);
    await Deno.writeTextFile(
      `${dir}/main.ts`,
      `import { installPostgresCrashGuard } from "${new URL(
        "storage/postgres_crash_guard.ts",
        repo,
      )}";
import { PostgresPools } from "${new URL("storage/postgres_pool.ts", repo)}";
import { closed, nextWriteLater } from "./postgres/3.4.9/src/connection.js";

const pools = new PostgresPools();
// Nothing listens there; the pool connects only when queried, which it is not.
const pool = pools.open("postgres://nobody@127.0.0.1:9/none", { name: "test" });
let caught = 0;
installPostgresCrashGuard({
  onClientError: (error) => {
    caught++;
    pools.clientFailed(error);
  },
});
const until = async (what, done) => {
  const deadline = Date.now() + 5000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for " + what);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};
nextWriteLater();
await until("the pool reset", () => pool.resets === 1);
console.log("survived a throw from setImmediate; pool reset " + pool.resets);
closed();
await until("the rejection caught", () => caught === 2);
console.log("survived a rejection of the client");
setTimeout(() => { throw new Error("not the client's failure"); }, 0);
setTimeout(() => console.log("still alive"), 1000);
`,
    );
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `--config=${new URL("deno.json", repo).pathname}`, `${dir}/main.ts`],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    const stdout = new TextDecoder().decode(output.stdout);
    const stderr = new TextDecoder().decode(output.stderr);
    assert.match(stdout, /survived a throw from setImmediate; pool reset 1\n/, stderr);
    assert.match(stdout, /survived a rejection of the client\n/, stderr);
    assert.doesNotMatch(stdout, /still alive/);
    assert.equal(output.code, 1);
    assert.match(stderr, /Uncaught.*not the client's failure/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
