/**
 * The Postgres crash guard (db/postgres_crash_guard.ts) in a process of its own: a throw from a
 * setImmediate inside the client is survived and resets the pools; any other uncaught error
 * still ends the process.
 */
import assert from "node:assert/strict";

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
    const repo = new URL("..", import.meta.url);
    await Deno.writeTextFile(
      `${dir}/main.ts`,
      `import { installPostgresCrashGuard } from "${new URL(
        "db/postgres_crash_guard.ts",
        repo,
      )}";
import { PostgresPools } from "${new URL("db/postgres_pool.ts", repo)}";
import { waitFor } from "${new URL("tests/kit/wait.ts", repo)}";
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
nextWriteLater();
await waitFor(() => pool.resets === 1, { what: "the pool reset", timeoutMs: 5000 });
console.log("survived a throw from setImmediate; pool reset " + pool.resets);
closed();
await waitFor(() => caught === 2, { what: "the rejection caught", timeoutMs: 5000 });
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
