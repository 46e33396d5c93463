import assert from "node:assert/strict";
import postgres from "postgres";
import { waitFor } from "../tests/kit/wait.ts";
import {
  installPostgresCrashGuard,
  isOrphanSocketError,
  isPostgresClientError,
} from "./postgres_crash_guard.ts";

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
/** Our patched copy, the one the worker runs. */
const VENDORED = "file:///work/main/vendor/postgres/src/connection.js:262:5";

Deno.test("an error thrown from the Postgres client's connection code is recognised", () => {
  for (const frame of [NPM_CACHE, NODE_MODULES, CJS, VENDORED]) {
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
  // A connection torn down rejects all its queries with one error, marked by the first of them:
  // one of those left unhandled is the teardown's, not a query's failure.
  const teardown = Object.assign(thrownAt(NPM_CACHE, "write CONNECTION_DESTROYED"), {
    code: "CONNECTION_DESTROYED",
  });
  Object.defineProperty(teardown, "query", { value: "select 1" });
  assert.ok(isPostgresClientError(teardown));
  // The client's own array-type fetch as a connection opens, its promise dropped by the client:
  // a reset then is the client's, whatever the stack says (Deno reports the socket's frames).
  const typeFetch = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
  typeFetch.stack = "Error: read ECONNRESET\n    at TCPWrap.onStreamRead [as onread] " +
    "(ext:deno_node/internal/stream_base_commons.ts:1:3690)";
  Object.defineProperty(typeFetch, "query", {
    value: `
      select b.oid, b.typarray
      from pg_catalog.pg_type a
      left join pg_catalog.pg_type b on b.oid = a.typelem
      where a.typcategory = 'A'
      group by b.oid, b.typarray
      order by b.oid
    `,
  });
  assert.ok(isPostgresClientError(typeFetch));
  const standbyCheck = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
  Object.defineProperty(standbyCheck, "query", {
    value: "\n      show transaction_read_only;\n      select pg_catalog.pg_is_in_recovery()\n",
  });
  assert.ok(isPostgresClientError(standbyCheck));
  // Our own query of the same table is ours.
  const ours = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
  Object.defineProperty(ours, "query", { value: "select typname from pg_catalog.pg_type" });
  assert.ok(!isPostgresClientError(ours));
});

/** A socket error as Deno's Node compatibility throws it when the socket has no listener left. */
function orphanSocketError(code: string, frames: string[]) {
  const error = Object.assign(new Error(`read ${code}`), { code, syscall: "read" });
  error.stack = [`Error: read ${code}`, ...frames.map((f) => `    at ${f}`)].join("\n");
  return error;
}

/** The frames of a reset seen from a socket whose listeners were removed (Deno 2.9). */
const RUNTIME_FRAMES = [
  "__node_internal_exceptionWithHostPort (ext:deno_node/internal/errors.ts:1:3772)",
  "_afterConnectImpl (ext:deno_node/net.ts:1:6347)",
  "ext:deno_node/net.ts:1:5672",
  "TCPConnectWrap._afterConnect [as oncomplete] (ext:deno_node/net.ts:1:5642)",
  "new Promise (<anonymous>)",
];

Deno.test("a socket error with only the runtime's frames is recognised as the client's", () => {
  for (const code of ["ECONNRESET", "EPIPE"]) {
    assert.ok(isOrphanSocketError(orphanSocketError(code, RUNTIME_FRAMES)), code);
  }
  // Another code, a frame of a module (ours or a package's), a query's error: not it.
  assert.ok(!isOrphanSocketError(orphanSocketError("ENOENT", RUNTIME_FRAMES)));
  const fromModule = [...RUNTIME_FRAMES, "connect (file:///work/main/spider/fetcher.ts:3:1)"];
  assert.ok(!isOrphanSocketError(orphanSocketError("ECONNRESET", fromModule)));
  const queryError = orphanSocketError("ECONNRESET", RUNTIME_FRAMES);
  Object.defineProperty(queryError, "query", { value: "select 1" });
  assert.ok(!isOrphanSocketError(queryError));
  assert.ok(!isOrphanSocketError(new Error("read ECONNRESET")));

  const target = new EventTarget();
  const seen: unknown[] = [];
  using _guard = installPostgresCrashGuard({ onClientError: (e) => seen.push(e), target });
  const reset = orphanSocketError("ECONNRESET", RUNTIME_FRAMES);
  const uncaught = new ErrorEvent("error", { error: reset, cancelable: true });
  target.dispatchEvent(uncaught);
  assert.ok(uncaught.defaultPrevented, "a reset the client no longer listens for ends nothing");
  assert.deepEqual(seen, [reset]);
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

/**
 * A loopback server speaking just enough of Postgres's protocol to let a client connect, then
 * failing the client's first query on the connection — its own array-type fetch — with a server
 * shutting down (57P01), as a server going away while connections open does.
 */
function shuttingDownServer(): { port: number; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      (async () => {
        const buffer = new Uint8Array(4096);
        await conn.read(buffer); // the startup message
        // AuthenticationOk, ReadyForQuery.
        await conn.write(new Uint8Array([0x52, 0, 0, 0, 8, 0, 0, 0, 0, 0x5a, 0, 0, 0, 5, 0x49]));
        await conn.read(buffer); // the type fetch
        const fields = new TextEncoder().encode("SFATAL\0C57P01\0Mterminating connection\0\0");
        const error = new Uint8Array(5 + fields.length);
        error[0] = 0x45;
        new DataView(error.buffer).setInt32(1, 4 + fields.length);
        error.set(fields, 5);
        await conn.write(error);
        await conn.write(new Uint8Array([0x5a, 0, 0, 0, 5, 0x49]));
      })().catch(() => {/* the client hung up */});
    }
  })().catch(() => {/* closed */});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    close() {
      listener.close();
      for (const conn of conns) {
        try {
          conn.close();
        } catch { /* closed by the client */ }
      }
    },
  };
}

Deno.test("the client's own type fetch failing as a connection opens does not end the process", async () => {
  const server = shuttingDownServer();
  const seen: unknown[] = [];
  // On globalThis, where Deno reports the rejection the client leaves unhandled.
  using _guard = installPostgresCrashGuard({ onClientError: (e) => seen.push(e) });
  const sql = postgres(`postgres://crawler@127.0.0.1:${server.port}/crawler`, {
    max: 1,
    connect_timeout: 2,
    onnotice: () => {},
  });
  try {
    await assert.rejects(sql`select 1`, /terminating connection/);
    await waitFor(() => seen.length > 0, { what: "the type fetch's rejection to reach the guard" });
    assert.match(String((seen[0] as { query?: unknown }).query), /pg_catalog\.pg_type/);
  } finally {
    await sql.end({ timeout: 0 });
    server.close();
  }
});
