import assert from "node:assert/strict";
import { MemoryHostStore } from "./memory_host_store.ts";
import { RobotsCache } from "./robots_cache.ts";

Deno.test("robots cache: fetched once for concurrent callers, again after it expires", async () => {
  let fetches = 0;
  let status = 200;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () => {
    fetches++;
    return new Response("User-agent: *\nDisallow: /x\n", { status });
  });
  try {
    const host = `http://127.0.0.1:${server.addr.port}`;
    const clock = { now: 1_000_000 };
    const store = new MemoryHostStore();
    const cache = new RobotsCache(store, {
      userAgent: "crawler/1",
      ttlMs: 1000,
      retryMs: 500,
      now: () => clock.now,
    });
    const all = await Promise.all([cache.rules(host), cache.rules(host), cache.rules(host)]);
    assert.equal(fetches, 1);
    assert.ok(all.every((rules) => !rules.isAllowed(`${host}/x`, "crawler")));
    // A second process on the same store reads the stored copy instead of fetching.
    const other = new RobotsCache(store, { userAgent: "crawler/1", now: () => clock.now });
    assert.equal((await other.rules(host)).isAllowed(`${host}/x`, "c"), false);
    assert.equal(fetches, 1);

    // Expired: fetched again; a 500 now blocks the host until the retry time.
    clock.now += 1000;
    status = 500;
    const blocked = await cache.rules(host);
    assert.equal(fetches, 2);
    assert.equal(blocked.isAllowed(`${host}/y`, "crawler"), false);
    clock.now += 499;
    await cache.rules(host);
    assert.equal(fetches, 2);
    // The retry succeeds: the host is open again.
    clock.now += 1;
    status = 200;
    assert.equal((await cache.rules(host)).isAllowed(`${host}/y`, "crawler"), true);
    assert.equal(fetches, 3);
  } finally {
    await server.shutdown();
  }
});
