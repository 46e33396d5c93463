/**
 * The store contract (tests/contracts/store_contract.ts) on the embedded store, and what only the
 * embedded store does: persistence to its file, time on an injected clock, bounded history.
 * `EtcdStore` keeps the same contract against a real etcd in tests/etcd_store_test.ts.
 */

import assert from "node:assert/strict";
import { EmbeddedStore, openEmbeddedStore } from "./embedded_store.ts";
import {
  type Backend,
  quietLogger,
  Reader,
  storeContract,
  summary,
} from "../tests/contracts/store_contract.ts";
import { waitFor } from "../tests/kit/wait.ts";
import { type KeyValue, WatchCompactedError } from "./store.ts";
import type { Clock } from "../async/clock.ts";

async function embedded(): Promise<Backend> {
  const store = await openEmbeddedStore({ logger: quietLogger });
  return { client: () => Promise.resolve(store), dispose: () => store.close() };
}

for (const { name, test } of storeContract) {
  Deno.test(`embedded store: ${name}`, async () => {
    const backend = await embedded();
    try {
      await test(backend);
    } finally {
      await backend.dispose();
    }
  });
}

// ---- embedded only: persistence and time -----------------------------------------------------

class FakeClock implements Pick<Clock, "now" | "setTimer"> {
  #now = 0;
  #timers: Array<{ at: number; callback: () => void; cancelled: boolean }> = [];
  now(): number {
    return this.#now;
  }
  setTimer(callback: () => void, ms: number): () => void {
    const timer = { at: this.#now + ms, callback, cancelled: false };
    this.#timers.push(timer);
    return () => {
      timer.cancelled = true;
    };
  }
  advance(ms: number): void {
    this.#now += ms;
    const due = this.#timers.filter((timer) => !timer.cancelled && timer.at <= this.#now);
    this.#timers = this.#timers.filter((timer) => !due.includes(timer));
    for (const timer of due) timer.callback();
  }
  get pending(): number {
    return this.#timers.filter((timer) => !timer.cancelled).length;
  }
}

async function withTempDir(test: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "crawler_store_" });
  try {
    await test(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("embedded store: keys without a lease survive a reopen, leased keys do not", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/nested/store.json`;
    const store = await openEmbeddedStore({ path, logger: quietLogger });
    await store.put("/resources/a", '{"Name":"a"}');
    await store.put("/resources/b", "1");
    await store.put("/resources/b", "2");
    const lease = await store.grantLease(10);
    await lease.put("/crawler/workers/w1", "{}");
    await store.put("/crawler/workers/w2", "plain");
    await lease.put("/crawler/workers/w2", "now leased");
    const campaign = store.election("/crawler/election", 10).campaign("master1");
    await waitFor(campaign.elected, { what: "elected", timeoutMs: 2000 });
    const revision = store.revision;
    const b = await store.get("/resources/b");
    await store.close();
    assert.ok(lease.signal.aborted && campaign.signal.aborted);

    const reopened = await openEmbeddedStore({ path, logger: quietLogger });
    try {
      const { kvs, revision: reopenedRevision } = await reopened.getPrefix("/");
      assert.deepEqual(kvs.map((kv) => kv.key), ["/resources/a", "/resources/b"]);
      assert.deepEqual(await reopened.get("/resources/b"), b);
      assert.equal(reopenedRevision, revision);
      assert.equal(await reopened.election("/crawler/election", 10).leader(), undefined);
      assert.ok((await reopened.put("/resources/c", "1")) > revision, "revisions keep growing");
      // History does not survive: a watch from before the reopen must reload.
      await assert.rejects(async () => {
        for await (const _ of reopened.watchPrefix("/", { fromRevision: revision })) break;
      }, WatchCompactedError);
    } finally {
      await reopened.close();
    }
  });
});

Deno.test("embedded store: writes are debounced, atomic, and flushed on close", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/store.json`;
    const clock = new FakeClock();
    const store = await openEmbeddedStore({ path, clock, flushDelayMs: 100, logger: quietLogger });
    await store.put("/a", "1");
    await store.put("/b", "2");
    await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
    assert.equal(clock.pending, 1, "one write for a burst of changes");
    clock.advance(100);
    await waitFor(() => Deno.stat(path).then(() => true, () => false), {
      what: "the debounced write",
      timeoutMs: 2000,
    });
    await store.put("/c", "3");
    await store.close(); // before the timer: close must write
    const saved = JSON.parse(await Deno.readTextFile(path));
    assert.deepEqual(saved.kvs.map((kv: KeyValue) => kv.key).sort(), ["/a", "/b", "/c"]);
    const leftovers = [...Deno.readDirSync(dir)].map((entry) => entry.name);
    assert.deepEqual(leftovers, ["store.json"], "no temporary file is left behind");
  });
});

Deno.test("embedded store: a corrupt file is refused with a clear error", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/store.json`;
    await Deno.writeTextFile(path, '{"version":1,"revision":"x"}');
    await assert.rejects(openEmbeddedStore({ path }), /not a store snapshot/);
    await Deno.writeTextFile(path, "{");
    await assert.rejects(openEmbeddedStore({ path }), /not valid JSON/);
  });
});

Deno.test("embedded store: a lease not kept alive expires on the injected clock", async () => {
  const clock = new FakeClock();
  const store = await openEmbeddedStore({ clock, logger: quietLogger });
  try {
    const lease = await store.grantLease(2, { keepAlive: false });
    await lease.put("/t/a", "1");
    await lease.put("/t/b", "2");
    const watch = new Reader((signal) =>
      store.watchPrefix("/t/", { fromRevision: store.revision + 1, signal })
    );
    try {
      clock.advance(1999);
      assert.equal(lease.signal.aborted, false);
      clock.advance(1);
      assert.ok(lease.signal.aborted);
      const events = await watch.take(2, "delete on expiry");
      assert.deepEqual(events.map(summary), ["delete /t/a prev=1", "delete /t/b prev=2"]);
      assert.equal(events[0].revision, events[1].revision, "one revision, as etcd revokes");
    } finally {
      await watch.close();
    }
  } finally {
    await store.close();
  }
});

Deno.test("embedded store: history is bounded and a watcher that falls too far behind is compacted", async () => {
  const store = await openEmbeddedStore({ historyLimit: 8, logger: quietLogger });
  try {
    const first = await store.put("/x", "0");
    const watch = new Reader((signal) => store.watchPrefix("/x", { fromRevision: first, signal }));
    for (let i = 1; i <= 20; i++) await store.put("/x", String(i));
    await assert.rejects(watch.take(30, "event"), WatchCompactedError);
    await assert.rejects(async () => {
      for await (const _ of store.watchPrefix("/x", { fromRevision: first })) break;
    }, WatchCompactedError);
    await watch.close();
  } finally {
    await store.close();
  }
});

Deno.test("embedded store: calls after close fail", async () => {
  const store = await openEmbeddedStore();
  await store.close();
  await assert.rejects(store.put("/a", "1"), /closed/);
  assert.ok(store instanceof EmbeddedStore);
});
