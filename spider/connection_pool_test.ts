import assert from "node:assert/strict";
import {
  ConnectionPool,
  type ConnectionPoolOptions,
  defaultMaxConnections,
} from "./connection_pool.ts";
import { waitFor } from "../tests/kit/wait.ts";

/** A client that records what it was made with and whether it was closed; it opens nothing. */
interface FakeClient {
  readonly options: Deno.CreateHttpClientOptions;
  closed: boolean;
}

/** A pool over fake clients, and the clients it made, in order. */
function fakePool(options: ConnectionPoolOptions = {}) {
  const made: FakeClient[] = [];
  const pool = new ConnectionPool({
    ...options,
    createClient: (clientOptions) => {
      const client: FakeClient = { options: clientOptions, closed: false };
      made.push(client);
      return Object.assign(client, {
        close() {
          assert.equal(client.closed, false, "a client is closed once");
          client.closed = true;
        },
      }) as unknown as Deno.HttpClient;
    },
  });
  const fake = (client: Deno.HttpClient) => client as unknown as FakeClient;
  return { pool, made, fake };
}

/** Whether `promise` is still pending after everything queued so far has run. */
async function isPending(promise: Promise<unknown>): Promise<boolean> {
  const marker = Symbol("pending");
  const result = await Promise.race([promise.catch(() => undefined), Promise.resolve(marker)]);
  return result === marker;
}

Deno.test("the default bound is four sockets per fetch slot, at least 32", () => {
  assert.equal(defaultMaxConnections(1), 32);
  assert.equal(defaultMaxConnections(8), 32);
  assert.equal(defaultMaxConnections(64), 128);
});

Deno.test("pool gives one client per origin, charged the most requests it had in flight", async () => {
  const { pool, made } = fakePool({ maxConnections: 8 });
  try {
    const a1 = await pool.acquire("http://a.test/1");
    const a2 = await pool.acquire("http://a.test:80/2");
    const b = await pool.acquire("https://a.test/3");
    assert.equal(a1.client, a2.client, "one client for one origin");
    assert.notEqual(a1.client, b.client, "another scheme is another origin");
    assert.equal(made.length, 2);
    assert.deepEqual(pool.stats(), { clients: 2, inFlight: 3, charged: 0, closing: 0, waiting: 0 });
    a1.release();
    a2.release();
    a2.release(); // releasing twice is harmless
    // a.test may hold two idle sockets now; a third request reuses one without a new charge.
    assert.deepEqual(pool.stats(), { clients: 2, inFlight: 1, charged: 2, closing: 0, waiting: 0 });
    const a3 = await pool.acquire("http://a.test/4");
    assert.deepEqual(pool.stats(), { clients: 2, inFlight: 2, charged: 1, closing: 0, waiting: 0 });
    a3.release();
    b.release();
    assert.equal(made.filter((c) => c.closed).length, 0, "idle clients are kept");
  } finally {
    pool.close();
  }
  assert.ok(made.every((c) => c.closed), "close() closes every client");
});

Deno.test("pool closes the least recently used idle client to make room, never one in flight", async () => {
  const { pool, fake } = fakePool({ maxConnections: 3 });
  try {
    const busy = await pool.acquire("http://busy.test/");
    const old = await pool.acquire("http://old.test/");
    old.release();
    const recent = await pool.acquire("http://recent.test/");
    recent.release();
    // Full: one in flight, two idle. A fourth host closes the least recently used idle one.
    const next = await pool.acquire("http://next.test/");
    assert.equal(fake(old.client).closed, true);
    assert.equal(fake(recent.client).closed, false);
    assert.equal(fake(busy.client).closed, false);
    assert.deepEqual(pool.stats(), { clients: 3, inFlight: 2, charged: 1, closing: 0, waiting: 0 });
    next.release();
    busy.release();
  } finally {
    pool.close();
  }
});

Deno.test("a closed client's sockets count until the runtime has had a turn to close them", async () => {
  const { pool, fake } = fakePool({ maxConnections: 1 });
  try {
    const a = await pool.acquire("http://a.test/");
    a.release();
    const b = pool.acquire("http://b.test/");
    assert.equal(fake(a.client).closed, true, "closed at once to make room");
    assert.deepEqual(pool.stats(), { clients: 0, inFlight: 0, charged: 0, closing: 1, waiting: 1 });
    assert.ok(await isPending(b), "but its socket may still be open");
    (await b).release(); // granted on the next timer turn
  } finally {
    pool.close();
  }
});

Deno.test("a request waits for a socket while every one is in flight, first come first served", async () => {
  const { pool, fake } = fakePool({ maxConnections: 1 });
  try {
    const a = await pool.acquire("http://a.test/");
    const b = pool.acquire("http://b.test/");
    const c = pool.acquire("http://c.test/");
    assert.ok(await isPending(b));
    assert.deepEqual(pool.stats(), { clients: 1, inFlight: 1, charged: 0, closing: 0, waiting: 2 });
    a.release(); // a.test is idle now: closed to make room for the first in line
    const first = await b;
    assert.equal(fake(a.client).closed, true);
    assert.ok(await isPending(c), "the second in line still waits");
    first.release();
    (await c).release();
    assert.deepEqual(pool.stats(), { clients: 1, inFlight: 0, charged: 1, closing: 0, waiting: 0 });
  } finally {
    pool.close();
  }
});

Deno.test("reusing a busy host's idle socket does not wait behind requests for new ones", async () => {
  const { pool, fake } = fakePool({ maxConnections: 2 });
  try {
    const a1 = await pool.acquire("http://a.test/1");
    const a2 = await pool.acquire("http://a.test/2");
    const waiting = pool.acquire("http://c.test/");
    a1.release(); // a.test may hold an idle socket, but it cannot be closed while a2 is in flight
    assert.ok(await isPending(waiting));
    const a3 = await pool.acquire("http://a.test/3");
    assert.equal(a3.client, a1.client);
    assert.deepEqual(pool.stats(), { clients: 1, inFlight: 2, charged: 0, closing: 0, waiting: 1 });
    a2.release();
    a3.release();
    (await waiting).release();
    assert.equal(fake(a1.client).closed, true);
  } finally {
    pool.close();
  }
});

Deno.test("a request waiting for a socket is given up when its signal aborts", async () => {
  const { pool } = fakePool({ maxConnections: 1 });
  try {
    const held = await pool.acquire("http://a.test/");
    const controller = new AbortController();
    const waiting = pool.acquire("http://b.test/", { signal: controller.signal });
    const behind = pool.acquire("http://a.test/second");
    assert.equal(pool.stats().waiting, 2);
    const reason = new Error("task stopped");
    controller.abort(reason);
    await assert.rejects(waiting, (e) => e === reason);
    assert.equal(pool.stats().waiting, 1);
    held.release();
    (await behind).release();
    assert.deepEqual(pool.stats(), { clients: 1, inFlight: 0, charged: 1, closing: 0, waiting: 0 });
    // An aborted signal does not even queue.
    await assert.rejects(
      pool.acquire("http://b.test/", { signal: AbortSignal.abort(reason) }),
      (e) => e === reason,
    );
  } finally {
    pool.close();
  }
});

Deno.test("keepAlive: false uses a client that keeps no idle socket, and is counted in flight", async () => {
  const { pool, made } = fakePool({ maxConnections: 1 });
  try {
    const once = await pool.acquire("http://far.test/", { keepAlive: false });
    assert.deepEqual(made[0].options, { poolMaxIdlePerHost: 0 });
    assert.deepEqual(pool.stats(), { clients: 0, inFlight: 1, charged: 0, closing: 0, waiting: 0 });
    const waiting = pool.acquire("http://other.test/", { keepAlive: false });
    assert.ok(await isPending(waiting), "it counts against the bound");
    once.release();
    const next = await waiting;
    assert.equal(next.client, once.client, "one shared client");
    next.release();
    // Its socket goes once the response is done: counted until the runtime has had a turn.
    assert.deepEqual(pool.stats(), { clients: 0, inFlight: 0, charged: 0, closing: 1, waiting: 0 });
    await waitFor(() => pool.stats().closing === 0, { what: "the socket let go" });
  } finally {
    pool.close();
  }
});

Deno.test("keepAlive: false reuses a host's warm client and closes it after", async () => {
  const { pool, fake } = fakePool({ maxConnections: 4 });
  try {
    const first = await pool.acquire("http://a.test/");
    first.release();
    const last = await pool.acquire("http://a.test/last", { keepAlive: false });
    assert.equal(last.client, first.client);
    last.release();
    assert.equal(fake(first.client).closed, true);
    assert.deepEqual(pool.stats(), { clients: 0, inFlight: 0, charged: 0, closing: 1, waiting: 0 });
  } finally {
    pool.close();
  }
});

Deno.test("idle clients are closed after the idle timeout, busy ones only once done", async () => {
  const { pool, made, fake } = fakePool({ maxConnections: 8, idleTimeoutMs: 50 });
  try {
    const idle = await pool.acquire("http://idle.test/");
    const busy = await pool.acquire("http://busy.test/");
    idle.release();
    assert.equal(made[0].options.poolIdleTimeout, 50, "sockets share the timeout");
    await waitFor(() => fake(idle.client).closed, { what: "the idle client closed" });
    assert.equal(fake(busy.client).closed, false);
    assert.equal(pool.stats().clients, 1);
    busy.release();
    await waitFor(() => fake(busy.client).closed, { what: "the other client closed once idle" });
    await waitFor(() => pool.stats().closing === 0, { what: "their sockets let go" });
    assert.deepEqual(pool.stats(), { clients: 0, inFlight: 0, charged: 0, closing: 0, waiting: 0 });
  } finally {
    pool.close();
  }
});

Deno.test("shed closes every idle client at once, and a busy one as soon as it is done", async () => {
  const { pool, fake } = fakePool({ maxConnections: 8 });
  try {
    const leases = await Promise.all(
      ["a", "b", "c"].map((host) => pool.acquire(`http://${host}.test/`)),
    );
    leases[0].release();
    leases[1].release();
    assert.equal(pool.shed(), 2);
    assert.ok(fake(leases[0].client).closed && fake(leases[1].client).closed);
    assert.equal(fake(leases[2].client).closed, false, "never closed in flight");
    leases[2].release();
    assert.equal(fake(leases[2].client).closed, true);
    assert.deepEqual(pool.stats(), { clients: 0, inFlight: 0, charged: 0, closing: 3, waiting: 0 });
  } finally {
    pool.close();
  }
});

Deno.test("a client whose response was redirected is closed once nothing is in flight", async () => {
  const { pool, fake } = fakePool({ maxConnections: 8 });
  try {
    const redirected = await pool.acquire("http://a.test/old");
    const other = await pool.acquire("http://a.test/other");
    redirected.release({ redirected: true });
    assert.equal(fake(redirected.client).closed, false, "still in flight for another request");
    other.release();
    assert.equal(fake(redirected.client).closed, true);
    assert.equal(pool.stats().clients, 0);
  } finally {
    pool.close();
  }
});

Deno.test("proxies get one client each, in turn, counted against the bound", async () => {
  const { pool, made } = fakePool({
    maxConnections: 2,
    proxies: ["http://127.0.0.1:8001", "http://user:pw@127.0.0.1:8002"],
  });
  try {
    const a = await pool.acquire("http://x.test/");
    const b = await pool.acquire("http://y.test/", { keepAlive: false });
    assert.deepEqual(made.map((c) => (c.options.proxy as { url: string }).url), [
      "http://127.0.0.1:8001/",
      "http://user:pw@127.0.0.1:8002/",
    ]);
    const waiting = pool.acquire("http://z.test/");
    assert.ok(await isPending(waiting));
    a.release();
    const c = await waiting; // reuses the first proxy's idle socket
    assert.equal(c.client, a.client);
    b.release();
    c.release();
    assert.equal(made.length, 2);
  } finally {
    pool.close();
  }
  assert.throws(() => new ConnectionPool({ proxies: ["::not a url::"] }), TypeError);
});

Deno.test("closing the pool fails the waiting requests", async () => {
  const { pool } = fakePool({ maxConnections: 1 });
  const held = await pool.acquire("http://a.test/");
  const waiting = pool.acquire("http://b.test/", { signal: new AbortController().signal });
  pool.close();
  await assert.rejects(waiting, /closed/);
  held.release(); // harmless after close
  await assert.rejects(pool.acquire("http://a.test/"), /after close/);
});

Deno.test("fetch through the pool holds its socket until the body is read or cancelled", async () => {
  const bodies: Array<ReadableStreamDefaultController<Uint8Array>> = [];
  const { pool } = fakePool({
    maxConnections: 4,
    fetch: (_input, init) => {
      assert.ok((init as { client?: Deno.HttpClient }).client, "sent with the pool's client");
      return Promise.resolve(
        new Response(new ReadableStream({ start: (c) => void bodies.push(c) }), {
          status: 200,
          headers: { "x-test": "1" },
        }),
      );
    },
  });
  try {
    const read = await pool.fetch("http://a.test/robots.txt");
    const cancelled = await pool.fetch(new Request("http://b.test/robots.txt"));
    assert.equal(read.headers.get("x-test"), "1");
    assert.equal(pool.stats().inFlight, 2);
    bodies[0].enqueue(new TextEncoder().encode("User-agent: *"));
    bodies[0].close();
    assert.equal(await read.text(), "User-agent: *");
    assert.equal(pool.stats().inFlight, 1);
    await cancelled.body!.cancel();
    assert.equal(pool.stats().inFlight, 0);
    // A response without a body frees its socket at once.
    const { pool: empty } = fakePool({
      fetch: () => Promise.resolve(new Response(null, { status: 204 })),
    });
    await empty.fetch("http://c.test/");
    assert.equal(empty.stats().inFlight, 0);
    empty.close();
  } finally {
    pool.close();
  }
});

Deno.test("fetch through the pool releases the socket when the fetch fails", async () => {
  const { pool } = fakePool({
    maxConnections: 1,
    fetch: () => Promise.reject(new TypeError("fetch failed")),
  });
  try {
    await assert.rejects(pool.fetch("http://a.test/"), /fetch failed/);
    await assert.rejects(pool.fetch("http://b.test/"), /fetch failed/, "not stuck waiting");
    assert.equal(pool.stats().inFlight, 0);
  } finally {
    pool.close();
  }
});
