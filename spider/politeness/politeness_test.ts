import assert from "node:assert/strict";
import { MemoryHostStore } from "./memory_host_store.ts";
import { Politeness, type TaskPoliteness } from "./politeness.ts";
import { RobotsCache } from "./robots_cache.ts";

const ua = "crawler/1.0 (+https://x.test)";
const polite: TaskPoliteness = { robots: true, delayMs: 0, perHostConcurrency: 8 };

/** A host serving a robots.txt with a Disallow and `Crawl-delay: 1`; records paths asked for. */
function robotsHost() {
  const paths: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    paths.push(new URL(req.url).pathname);
    return new Response("User-agent: crawler\nDisallow: /no\nCrawl-delay: 1\n");
  });
  return { url: `http://127.0.0.1:${server.addr.port}`, paths, close: () => server.shutdown() };
}

function gate() {
  const store = new MemoryHostStore();
  return {
    store,
    gate: new Politeness(store, new RobotsCache(store, { userAgent: ua }), { userAgent: ua }),
  };
}

Deno.test("politeness: disallowed URLs are refused and counted, Crawl-delay spaces the rest", async () => {
  const host = robotsHost();
  try {
    const { store, gate: g } = gate();
    assert.deepEqual(await g.admit(`${host.url}/no/1`, polite), {
      kind: "disallowed",
      host: `${host.url}`,
    });
    const first = await g.admit(`${host.url}/yes`, polite);
    assert.equal(first.kind, "go");
    if (first.kind !== "go") return;
    // One at a time with a delay: while it is in flight the host is busy.
    assert.equal((await g.admit(`${host.url}/yes2`, polite)).kind, "later");
    await first.permit.release({ kind: "ok" });
    const next = await g.admit(`${host.url}/yes2`, polite);
    assert.equal(next.kind, "later");
    if (next.kind === "later") {
      assert.ok(next.waitMs > 900 && next.waitMs <= 1000, `${next.waitMs}`);
    }
    const [snapshot] = await g.hosts();
    assert.equal(snapshot.disallowed, 1);
    assert.equal(snapshot.requests, 1);
    assert.equal(snapshot.delayMs, 1000);
    assert.deepEqual(host.paths, ["/robots.txt"]);
    await store.close();
  } finally {
    await host.close();
  }
});

Deno.test("politeness: a host whose robots.txt fails is unavailable, with the reason", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response("oops", { status: 500 }),
  );
  try {
    const url = `http://127.0.0.1:${server.addr.port}`;
    const { gate: g } = gate();
    const admission = await g.admit(`${url}/page`, polite);
    assert.equal(admission.kind, "unavailable");
    if (admission.kind === "unavailable") assert.match(admission.reason, /HTTP 500/);
  } finally {
    await server.shutdown();
  }
});

Deno.test("politeness: a task with robots off neither reads robots.txt nor obeys it", async () => {
  const host = robotsHost();
  try {
    const { gate: g } = gate();
    const admission = await g.admit(`${host.url}/no/1`, { ...polite, robots: false });
    assert.equal(admission.kind, "go");
    // No Crawl-delay either: another request may go at once.
    assert.equal((await g.admit(`${host.url}/no/2`, { ...polite, robots: false })).kind, "go");
    assert.deepEqual(host.paths, []);
  } finally {
    await host.close();
  }
});
