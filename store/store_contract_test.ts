/**
 * One contract, run against both stores: the embedded store in-process and `EtcdStore` against
 * a real etcd started for each test (`etcd` must be on PATH). Tests that only make sense for
 * one implementation (etcd restarts, the embedded store's file) follow the shared ones.
 */

import assert from "node:assert/strict";
import { Etcd3 } from "etcd3";
import { startEtcd } from "../tests/etcd_server.ts";
import type { EtcdServer } from "../tests/etcd_server.ts";
import { EmbeddedStore, openEmbeddedStore } from "./embedded_store.ts";
import { EtcdStore } from "./etcd_store.ts";
import {
  GuardFailedError,
  type KeyValue,
  LeaseLostError,
  type Store,
  type StoreLogger,
  StoreUnavailableError,
  WatchCompactedError,
  type WatchEvent,
  type WriteGuard,
} from "./store.ts";
import type { Clock } from "./clock.ts";

/** A store with the operator calls the tests use to break things on purpose. */
type TestStore = Store & {
  revokeLease(id: string): Promise<boolean>;
  compact(revision: number): Promise<void>;
};

/** One backend for a test; `client()` is another process' view of it (the same one in-process). */
interface Backend {
  client(): Promise<TestStore>;
  dispose(): Promise<void>;
}

const quietLogger: StoreLogger = { warn: () => {}, error: (...args) => console.error(...args) };

const implementations: Array<{ name: string; backend: () => Promise<Backend> }> = [
  {
    name: "embedded",
    backend: async () => {
      const store = await openEmbeddedStore({ logger: quietLogger });
      return { client: () => Promise.resolve(store), dispose: () => store.close() };
    },
  },
  {
    name: "etcd",
    backend: async () => {
      const etcd = await startEtcd();
      const clients: EtcdStore[] = [];
      return {
        client: () => {
          const store = new EtcdStore({
            endpoints: [etcd.endpoint],
            timeoutMs: 3000,
            logger: quietLogger,
          });
          clients.push(store);
          return Promise.resolve(store);
        },
        dispose: async () => {
          await Promise.all(clients.map((store) => store.close()));
          await etcd.dispose();
        },
      };
    },
  },
];

/** Fails with `what` when `promise` takes longer than `ms`. */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Reads a watch (or an observer) item by item, each read bounded in time. It owns the signal
 * passed to the iterable: `close()` aborts it, as a consumer blocked in `next()` must.
 */
class Reader<T> {
  readonly #controller = new AbortController();
  readonly #iterator: AsyncIterator<T>;
  #pending: Promise<IteratorResult<T>> | undefined;

  constructor(open: (signal: AbortSignal) => AsyncIterable<T>) {
    this.#iterator = open(this.#controller.signal)[Symbol.asyncIterator]();
  }

  async next(what: string, ms = 5000): Promise<T> {
    const pending = this.#pending ?? this.#iterator.next();
    this.#pending = pending;
    const result = await within(ms, what, pending);
    this.#pending = undefined;
    assert.ok(!result.done, `iteration ended while waiting for ${what}`);
    return result.value;
  }

  async take(count: number, what: string, ms = 5000): Promise<T[]> {
    const items: T[] = [];
    for (let i = 0; i < count; i++) items.push(await this.next(`${what} #${i + 1}`, ms));
    return items;
  }

  /** True when nothing arrives within `ms`; a late item is kept for the next `next()`. */
  async nothingWithin(ms: number): Promise<boolean> {
    this.#pending ??= this.#iterator.next();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const quiet = new Promise<"quiet">((resolve) => {
      timer = setTimeout(() => resolve("quiet"), ms);
    });
    const result = await Promise.race([this.#pending, quiet]);
    clearTimeout(timer);
    return result === "quiet";
  }

  async close(): Promise<void> {
    this.#controller.abort();
    // A read in progress ends (done) on the abort; only then can the iterator be returned.
    await within(5000, "reader to close", (this.#pending ?? Promise.resolve()).catch(() => {}));
    await this.#iterator.return?.();
  }
}

/** Waits until `count` candidates have their keys under the election prefix. */
async function candidates(store: Store, count: number): Promise<KeyValue[]> {
  return await within(
    5000,
    `${count} candidates`,
    (async () => {
      while (true) {
        const { kvs } = await store.getPrefix("/crawler/election/");
        if (kvs.length === count) return kvs;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })(),
  );
}

function summary(event: WatchEvent): string {
  return event.type === "put"
    ? `put ${event.key}=${event.kv.value} prev=${event.prevKv?.value ?? "-"}`
    : `delete ${event.key} prev=${event.prevKv?.value ?? "-"}`;
}

/** Registers `test` once per implementation, each run on a fresh backend it disposes of. */
function shared(name: string, test: (backend: Backend) => Promise<void>): void {
  for (const implementation of implementations) {
    Deno.test(`${implementation.name} store: ${name}`, async () => {
      const backend = await implementation.backend();
      try {
        await test(backend);
      } finally {
        await backend.dispose();
      }
    });
  }
}

shared(
  "getPrefix returns the keys under the prefix in key order, with the read revision",
  async (b) => {
    const store = await b.client();
    await store.put("/r/b", "2");
    await store.put("/r/a", "1");
    await store.put("/rx", "outside");
    const last = await store.put("/s/c", "3");
    const { kvs, revision } = await store.getPrefix("/r/");
    assert.deepEqual(kvs.map((kv) => [kv.key, kv.value]), [["/r/a", "1"], ["/r/b", "2"]]);
    assert.equal(revision, last);
    assert.equal((await store.getPrefix("/nothing/")).kvs.length, 0);
    assert.equal((await store.get("/r/a"))?.value, "1");
    assert.equal(await store.get("/r/zzz"), undefined);
  },
);

shared("put keeps the create revision and moves the mod revision", async (b) => {
  const store = await b.client();
  const first = await store.put("/k", "1");
  const second = await store.put("/k", "2");
  assert.ok(second > first);
  const kv = await store.get("/k");
  assert.deepEqual(
    { createRevision: kv?.createRevision, modRevision: kv?.modRevision, value: kv?.value },
    { createRevision: first, modRevision: second, value: "2" },
  );
  assert.equal(kv?.lease, undefined);
});

shared("create puts only when the key is absent", async (b) => {
  const store = await b.client();
  assert.equal(await store.create("/c", "first"), true);
  assert.equal(await store.create("/c", "second"), false);
  assert.equal((await store.get("/c"))?.value, "first");
  assert.equal(await store.delete("/c"), true);
  assert.equal(await store.delete("/c"), false);
  assert.equal(await store.create("/c", "third"), true);
  assert.equal((await store.get("/c"))?.value, "third");
});

shared("guarded put, create and delete apply while the guard holds", async (b) => {
  const store = await b.client();
  const guard: WriteGuard = {
    key: "/g/leader",
    createRevision: await store.put("/g/leader", "me"),
  };
  assert.ok((await store.put("/g/a", "1", { guard })) > guard.createRevision);
  assert.equal((await store.get("/g/a"))?.value, "1");
  assert.equal(await store.create("/g/b", "1", { guard }), true);
  assert.equal(
    await store.create("/g/b", "2", { guard }),
    false,
    "the key exists, the guard holds",
  );
  assert.equal((await store.get("/g/b"))?.value, "1");
  assert.equal(await store.delete("/g/a", { guard }), true);
  assert.equal(await store.delete("/g/a", { guard }), false);
  assert.equal(await store.get("/g/a"), undefined);
  // A new value for the guard key keeps its create revision: the guard still holds.
  await store.put("/g/leader", "me again");
  assert.equal(await store.create("/g/c", "1", { guard }), true);
  // A guard that cannot name a key is a programming mistake.
  await assert.rejects(
    store.put("/g/d", "1", { guard: { key: "/g/leader", createRevision: 0 } }),
    RangeError,
  );
});

shared("alsoPut writes its keys with the write, and not when the write is not made", async (b) => {
  const store = await b.client();
  const also = (value: string) => ({ alsoPut: [{ key: "/also/record", value }] });
  const record = async () => (await store.get("/also/record"))?.value;
  await store.put("/also/a", "1", also("put"));
  assert.equal(await record(), "put");
  assert.equal(await store.create("/also/a", "2", also("create refused")), false);
  assert.equal(await record(), "put", "a create that finds the key writes nothing");
  assert.equal(await store.create("/also/b", "1", also("create")), true);
  assert.equal(await record(), "create");
  assert.equal(await store.delete("/also/a", also("delete")), true);
  assert.equal(await record(), "delete");
  assert.equal(await store.delete("/also/a", also("delete again")), false);
  assert.equal(await record(), "delete again", "a delete writes them whether or not the key was");
  const guard: WriteGuard = {
    key: "/also/leader",
    createRevision: await store.put("/also/leader", "me"),
  };
  await store.delete("/also/leader");
  await assert.rejects(store.put("/also/c", "1", { guard, ...also("guarded") }), GuardFailedError);
  await assert.rejects(
    store.create("/also/c", "1", { guard, ...also("guarded") }),
    GuardFailedError,
  );
  await assert.rejects(store.delete("/also/b", { guard, ...also("guarded") }), GuardFailedError);
  assert.equal(await record(), "delete again", "nothing is written when the guard fails");
  assert.equal((await store.get("/also/b"))?.value, "1");
});

shared(
  "a guarded write whose guard key is gone or re-created fails and writes nothing",
  async (b) => {
    const store = await b.client();
    const other = await b.client();
    const guard: WriteGuard = {
      key: "/g/leader",
      createRevision: await store.put("/g/leader", "me"),
    };
    await store.put("/g/a", "old");
    const refused = (error: unknown) => {
      assert.ok(error instanceof GuardFailedError, String(error));
      assert.deepEqual(error.guard, guard);
      assert.match(error.message, /\/g\/leader/);
      return true;
    };
    const expectRefused = async (what: string) => {
      const before = await store.getPrefix("/g/");
      await assert.rejects(store.put("/g/a", "new", { guard }), refused, `put, ${what}`);
      await assert.rejects(store.put("/g/fresh", "new", { guard }), refused, `put, ${what}`);
      await assert.rejects(store.create("/g/fresh", "new", { guard }), refused, `create, ${what}`);
      // Both conditions fail: the guard is what is reported.
      await assert.rejects(store.create("/g/a", "new", { guard }), refused, `create, ${what}`);
      await assert.rejects(store.delete("/g/a", { guard }), refused, `delete, ${what}`);
      assert.deepEqual(await store.getPrefix("/g/"), before, `nothing written, ${what}`);
    };

    assert.equal(await other.delete("/g/leader"), true);
    await expectRefused("guard key deleted");

    const recreated = await other.put("/g/leader", "someone else");
    assert.ok(recreated > guard.createRevision);
    await expectRefused("guard key re-created");

    // The new key's own guard holds.
    const current: WriteGuard = { key: "/g/leader", createRevision: recreated };
    assert.equal(await store.delete("/g/a", { guard: current }), true);
  },
);

shared("watch delivers puts and deletes in revision order with previous values", async (b) => {
  const store = await b.client();
  const writer = await b.client();
  const { revision } = await store.getPrefix("/w/");
  const watch = new Reader((signal) =>
    store.watchPrefix("/w/", { fromRevision: revision + 1, signal })
  );
  try {
    await writer.put("/w/a", "1");
    await writer.put("/outside", "x");
    await writer.put("/w/a", "2");
    await writer.put("/w/b", "3");
    await writer.delete("/w/a");
    const events = await watch.take(4, "watch event");
    assert.deepEqual(events.map(summary), [
      "put /w/a=1 prev=-",
      "put /w/a=2 prev=1",
      "put /w/b=3 prev=-",
      "delete /w/a prev=2",
    ]);
    const revisions = events.map((event) => event.revision);
    assert.deepEqual(revisions, [...revisions].sort((x, y) => x - y));
    assert.equal(new Set(revisions).size, 4);
    const second = events[1] as Extract<WatchEvent, { type: "put" }>;
    assert.equal(second.kv.modRevision, second.revision);
    assert.equal(second.kv.createRevision, events[0].revision);
  } finally {
    await watch.close();
  }
});

shared("watch from a revision replays exactly what happened after it", async (b) => {
  const store = await b.client();
  await store.put("/h/a", "1");
  const from = await store.put("/h/b", "2");
  await store.put("/h/a", "3");
  await store.delete("/h/b");
  const watch = new Reader((signal) => store.watchPrefix("/h/", { fromRevision: from, signal }));
  try {
    const replayed = await watch.take(3, "replayed event");
    assert.deepEqual(replayed.map(summary), [
      "put /h/b=2 prev=-",
      "put /h/a=3 prev=1",
      "delete /h/b prev=2",
    ]);
    assert.equal(replayed[0].revision, from);
    await store.put("/h/c", "4");
    assert.equal(summary(await watch.next("live event")), "put /h/c=4 prev=-");
    assert.ok(await watch.nothingWithin(300), "no event is delivered twice");
  } finally {
    await watch.close();
  }
});

shared("watch from a compacted revision throws WatchCompactedError", async (b) => {
  const store = await b.client();
  const old = await store.put("/old/a", "1");
  await store.put("/old/a", "2");
  const latest = await store.put("/old/a", "3");
  await store.compact(latest);
  await assert.rejects(
    async () => {
      for await (const _ of store.watchPrefix("/old/", { fromRevision: old })) {
        assert.fail("no event should come from a compacted revision");
      }
    },
    (error) => error instanceof WatchCompactedError && error.compactRevision === latest,
  );
  // From the compaction revision on, history is still there.
  const watch = new Reader((signal) =>
    store.watchPrefix("/old/", { fromRevision: latest, signal })
  );
  try {
    const event = await watch.next("event at the compaction revision");
    // Its previous value is older than the compaction, so etcd may leave prevKv out.
    assert.deepEqual([event.type, event.key, event.revision], ["put", "/old/a", latest]);
  } finally {
    await watch.close();
  }
});

shared("a watch from a future revision starts there", async (b) => {
  const store = await b.client();
  const now = await store.put("/f/a", "1");
  const watch = new Reader((signal) => store.watchPrefix("/f/", { fromRevision: now + 2, signal }));
  try {
    assert.ok(await watch.nothingWithin(200));
    await store.put("/f/a", "2"); // now + 1: before the start
    await store.put("/f/a", "3"); // now + 2
    assert.equal(summary(await watch.next("event at the start revision")), "put /f/a=3 prev=2");
  } finally {
    await watch.close();
  }
});

shared("a watch ends when its signal aborts", async (b) => {
  const store = await b.client();
  const controller = new AbortController();
  const seen: string[] = [];
  const done = (async () => {
    for await (const event of store.watchPrefix("/sig/", { signal: controller.signal })) {
      seen.push(event.key);
    }
  })();
  await new Promise((resolve) => setTimeout(resolve, 200));
  controller.abort();
  await within(3000, "watch to end after abort", done);
  assert.deepEqual(seen, []);
});

shared(
  "keys of a lease that is not kept alive vanish at its TTL, with delete events",
  async (b) => {
    const store = await b.client();
    const lease = await store.grantLease(1, { keepAlive: false });
    const revision = await lease.put("/lease/a", "x");
    assert.equal((await store.get("/lease/a"))?.lease, lease.id);
    const watch = new Reader((signal) =>
      store.watchPrefix("/lease/", { fromRevision: revision + 1, signal })
    );
    try {
      const event = await watch.next("delete at lease expiry", 6000);
      assert.equal(summary(event), "delete /lease/a prev=x");
      assert.equal(await store.get("/lease/a"), undefined);
      await within(
        3000,
        "lease signal to abort",
        new Promise((resolve) => {
          if (lease.signal.aborted) resolve(undefined);
          lease.signal.addEventListener("abort", resolve, { once: true });
        }),
      );
      assert.ok(lease.signal.reason instanceof LeaseLostError);
      await assert.rejects(lease.put("/lease/b", "y"), LeaseLostError);
    } finally {
      await watch.close();
    }
  },
);

shared("a kept-alive lease outlives its TTL until revoked", async (b) => {
  const store = await b.client();
  const lease = await store.grantLease(1);
  await lease.put("/kept/a", "x");
  await new Promise((resolve) => setTimeout(resolve, 2500));
  assert.equal(lease.signal.aborted, false);
  assert.equal((await store.get("/kept/a"))?.value, "x");
  const { revision } = await store.getPrefix("/kept/");
  await lease.revoke();
  assert.ok(lease.signal.aborted);
  assert.ok(lease.signal.reason instanceof LeaseLostError);
  assert.equal(await store.get("/kept/a"), undefined);
  const watch = new Reader((signal) =>
    store.watchPrefix("/kept/", { fromRevision: revision + 1, signal })
  );
  try {
    assert.equal(summary(await watch.next("delete at revoke")), "delete /kept/a prev=x");
  } finally {
    await watch.close();
  }
  await lease.revoke(); // twice is fine
});

shared("a lease revoked elsewhere is reported lost to its holder", async (b) => {
  const holder = await b.client();
  const other = await b.client();
  const lease = await holder.grantLease(2);
  await lease.put("/revoked/a", "x");
  assert.equal(await other.revokeLease(lease.id), true);
  await within(
    4000,
    "holder to notice",
    new Promise((resolve) => {
      if (lease.signal.aborted) resolve(undefined);
      lease.signal.addEventListener("abort", resolve, { once: true });
    }),
  );
  assert.ok(lease.signal.reason instanceof LeaseLostError);
  assert.equal(await holder.get("/revoked/a"), undefined);
  assert.equal(await other.revokeLease(lease.id), false);
});

shared("two campaigners: exactly one leader until it resigns, then the other", async (b) => {
  const one = await b.client();
  const two = await b.client();
  const watcher = await b.client();
  const observer = new Reader((signal) =>
    watcher.election("/crawler/election", 2).observe({ signal })
  );
  try {
    assert.equal(await observer.next("no leader yet"), undefined);
    const first = one.election("/crawler/election", 2).campaign("master1");
    await within(5000, "first candidate elected", first.elected);
    const second = two.election("/crawler/election", 2).campaign("master2");
    assert.equal(await observer.next("first leader"), "master1");
    assert.equal(await watcher.election("/crawler/election", 2).leader(), "master1");
    const secondElected = await Promise.race([
      second.elected.then(() => true),
      new Promise((resolve) => setTimeout(() => resolve(false), 500)),
    ]);
    assert.equal(secondElected, false, "only one leader at a time");
    // The key layout is etcd's: <prefix>/<lease id in hex>.
    const { kvs } = await watcher.getPrefix("/crawler/election/");
    assert.equal(kvs.length, 2);
    for (const kv of kvs) {
      assert.equal(kv.key, `/crawler/election/${BigInt(kv.lease!).toString(16)}`);
    }
    await first.resign();
    assert.ok(first.signal.aborted);
    await within(5000, "second candidate elected", second.elected);
    assert.equal(await observer.next("leader after resign"), "master2");
    await second.resign();
    assert.equal(await observer.next("no leader after both resigned"), undefined);
  } finally {
    await observer.close();
  }
});

shared("when the leader's lease is lost the other candidate becomes leader", async (b) => {
  const one = await b.client();
  const two = await b.client();
  const watcher = await b.client();
  const observer = new Reader((signal) =>
    watcher.election("/crawler/election", 2).observe({ signal })
  );
  try {
    const first = one.election("/crawler/election", 2).campaign("master1");
    await within(5000, "first elected", first.elected);
    const second = two.election("/crawler/election", 2).campaign("master2");
    assert.equal(await observer.next("first observation"), "master1");
    // Simulate the leader losing its lease (as when etcd expires it): revoke it from elsewhere.
    const leaderKey = (await candidates(watcher, 2)).find((kv) => kv.value === "master1")!;
    assert.equal(await watcher.revokeLease(leaderKey.lease!), true);
    await within(5000, "second elected", second.elected);
    assert.equal(await observer.next("new leader"), "master2");
    await within(
      5000,
      "old leader to learn it lost",
      new Promise((resolve) => {
        if (first.signal.aborted) resolve(undefined);
        first.signal.addEventListener("abort", resolve, { once: true });
      }),
    );
    assert.ok(first.signal.reason instanceof LeaseLostError);
    await first.resign();
    await second.resign();
  } finally {
    await observer.close();
  }
});

shared(
  "an elected campaign's guard names its key, and fails writes once the key is gone",
  async (b) => {
    const one = await b.client();
    const two = await b.client();
    const watcher = await b.client();
    const leader = one.election("/crawler/election", 2).campaign("master1");
    await within(5000, "leader elected", leader.elected);
    const waiting = two.election("/crawler/election", 2).campaign("master2");
    const keys = await candidates(watcher, 2);
    assert.equal(waiting.guard, undefined, "no guard before being elected");
    const own = keys.find((kv) => kv.value === "master1")!;
    assert.deepEqual(leader.guard, { key: own.key, createRevision: own.createRevision });
    const guard = leader.guard!;
    await one.put("/resources/a", "1", { guard });

    // The leader's key vanishes behind its back (as when its lease expires during a pause):
    // the leader has not noticed, but a write guarded by its key is refused.
    assert.equal(await watcher.delete(guard.key), true);
    await within(5000, "the other candidate elected", waiting.elected);
    assert.equal(leader.signal.aborted, false, "the old leader has not noticed");
    await assert.rejects(one.put("/resources/a", "2", { guard }), GuardFailedError);
    await assert.rejects(one.delete("/resources/a", { guard }), GuardFailedError);
    assert.equal((await watcher.get("/resources/a"))?.value, "1");

    const next = waiting.guard;
    const nextKey = (await candidates(watcher, 1))[0];
    assert.deepEqual(next, { key: nextKey.key, createRevision: nextKey.createRevision });
    await two.put("/resources/a", "3", { guard: next });
    assert.equal((await watcher.get("/resources/a"))?.value, "3");
    await leader.resign();
    await waiting.resign();
  },
);

shared("a candidate that resigns before it is elected is rejected and leaves no key", async (b) => {
  const store = await b.client();
  const election = store.election("/crawler/election", 2);
  const leader = election.campaign("master1");
  await within(5000, "leader elected", leader.elected);
  const waiting = election.campaign("master2");
  await new Promise((resolve) => setTimeout(resolve, 300));
  await waiting.resign();
  await assert.rejects(waiting.elected);
  assert.ok(waiting.signal.aborted);
  const { kvs } = await store.getPrefix("/crawler/election/");
  assert.deepEqual(kvs.map((kv) => kv.value), ["master1"]);
  await leader.resign();
  assert.equal(await election.leader(), undefined);
});

shared("closing a store revokes its leases, so its leadership passes at once", async (b) => {
  const one = await b.client();
  const two = await b.client();
  const first = one.election("/crawler/election", 30).campaign("master1");
  await within(5000, "first elected", first.elected);
  const second = two.election("/crawler/election", 30).campaign("master2");
  if (one === two) {
    // In-process both candidates share the store: closing it ends both.
    await one.close();
    assert.ok(first.signal.aborted && second.signal.aborted);
    return;
  }
  await one.close();
  assert.ok(first.signal.aborted);
  // With a 30 s TTL, only the revoke at close can elect the second this fast.
  await within(5000, "second elected after the first store closed", second.elected);
  await second.resign();
});

// ---- etcd only: restarts -------------------------------------------------------------------

interface Logged {
  messages: string[];
  logger: StoreLogger;
}

function capturingLogger(): Logged {
  const messages: string[] = [];
  const record = (message: unknown) => messages.push(String(message));
  return { messages, logger: { warn: record, error: record } };
}

async function withEtcd(test: (etcd: EtcdServer, stores: EtcdStore[]) => Promise<void>) {
  const etcd = await startEtcd();
  const stores: EtcdStore[] = [];
  try {
    await test(etcd, stores);
  } finally {
    await Promise.all(stores.map((store) => store.close()));
    await etcd.dispose();
  }
}

Deno.test("etcd store: a watch resumes across an etcd restart with no event lost or repeated", async () => {
  await withEtcd(async (etcd, stores) => {
    const watchLog = capturingLogger();
    // A slow reconnect (2-4 s after the loss) so that the other client's puts, made about 1.5 s
    // after the loss, land while the watcher is away.
    const watching = new EtcdStore({
      endpoints: [etcd.endpoint],
      timeoutMs: 1000,
      backoff: { initialDelayMs: 4000, maxDelayMs: 4000 },
      logger: watchLog.logger,
    });
    const writer = new EtcdStore({
      endpoints: [etcd.endpoint],
      timeoutMs: 1000,
      logger: quietLogger,
    });
    stores.push(watching, writer);
    const { revision } = await watching.getPrefix("/resources/");
    const watch = new Reader((signal) =>
      watching.watchPrefix("/resources/", { fromRevision: revision + 1, signal })
    );
    try {
      await writer.put("/resources/a", "1");
      await writer.put("/resources/b", "1");
      const before = await watch.take(2, "event before the restart");

      await etcd.stop();
      await assert.rejects(writer.put("/resources/c", "lost"), StoreUnavailableError);
      await etcd.restart();

      // Another client writes while the watcher is still disconnected.
      const afterRestart = new EtcdStore({
        endpoints: [etcd.endpoint],
        timeoutMs: 3000,
        logger: quietLogger,
      });
      stores.push(afterRestart);
      await afterRestart.put("/resources/a", "2");
      await afterRestart.delete("/resources/b");
      await afterRestart.put("/resources/c", "1");

      const after = await watch.take(3, "event after the restart", 10_000);
      await afterRestart.put("/resources/d", "1");
      after.push(await watch.next("live event after resuming", 5000));
      assert.ok(await watch.nothingWithin(500), "no event is delivered twice");

      assert.deepEqual([...before, ...after].map(summary), [
        "put /resources/a=1 prev=-",
        "put /resources/b=1 prev=-",
        "put /resources/a=2 prev=1",
        "delete /resources/b prev=1",
        "put /resources/c=1 prev=-",
        "put /resources/d=1 prev=-",
      ]);
      const revisions = [...before, ...after].map((event) => event.revision);
      for (let i = 1; i < revisions.length; i++) assert.ok(revisions[i] > revisions[i - 1]);
      // It did reconnect, from the revision after the last one it had delivered.
      const resumeFrom = `resuming from revision ${before[1].revision + 1}`;
      assert.ok(
        watchLog.messages.some((message) => message.includes(resumeFrom)),
        `expected "${resumeFrom}" in ${JSON.stringify(watchLog.messages)}`,
      );
    } finally {
      await watch.close();
    }
  });
});

Deno.test("etcd store: leases, leadership and observers survive a short etcd restart", async () => {
  await withEtcd(async (etcd, stores) => {
    const options = { endpoints: [etcd.endpoint], timeoutMs: 3000, logger: quietLogger };
    const one = new EtcdStore(options);
    const two = new EtcdStore(options);
    const watcher = new EtcdStore(options);
    stores.push(one, two, watcher);
    const observer = new Reader((signal) =>
      watcher.election("/crawler/election", 5).observe({ signal })
    );
    try {
      const first = one.election("/crawler/election", 5).campaign("master1");
      await within(5000, "first elected", first.elected);
      const second = two.election("/crawler/election", 5).campaign("master2");
      await candidates(watcher, 2);
      const registration = await one.grantLease(5);
      await registration.put("/crawler/workers/w1", "{}");
      assert.equal(await observer.next("first observation"), "master1");

      await etcd.stop();
      await new Promise((resolve) => setTimeout(resolve, 500));
      await etcd.restart();
      // Give the keep-alives time to go through again (well within the 5 s TTL).
      await new Promise((resolve) => setTimeout(resolve, 1500));

      assert.equal(first.signal.aborted, false, "the leader kept its lease");
      assert.equal(registration.signal.aborted, false, "the registration kept its lease");
      assert.equal((await watcher.get("/crawler/workers/w1"))?.value, "{}");
      assert.ok(await observer.nothingWithin(300), "no spurious leader change");

      await first.resign();
      await within(5000, "second elected after the restart", second.elected);
      assert.equal(await observer.next("leader change after the restart"), "master2");
      await second.resign();
      await registration.revoke();
    } finally {
      await observer.close();
    }
  });
});

Deno.test("etcd store: a lease is lost when etcd stays away longer than its TTL", async () => {
  await withEtcd(async (etcd, stores) => {
    const store = new EtcdStore({
      endpoints: [etcd.endpoint],
      timeoutMs: 1000,
      logger: quietLogger,
    });
    stores.push(store);
    const lease = await store.grantLease(1);
    await lease.put("/gone", "x");
    const started = Date.now();
    await etcd.stop();
    await within(
      4000,
      "lease to be declared lost",
      new Promise((resolve) => {
        lease.signal.addEventListener("abort", resolve, { once: true });
      }),
    );
    assert.ok(lease.signal.reason instanceof LeaseLostError);
    assert.ok(Date.now() - started <= 2000, "declared lost within about its TTL");
    await etcd.restart();
  });
});

Deno.test("etcd store: a kept-alive lease moves aliveUntil on and says so", async () => {
  await withEtcd(async (etcd, stores) => {
    const store = new EtcdStore({ endpoints: [etcd.endpoint], logger: quietLogger });
    stores.push(store);
    const before = Date.now();
    const lease = await store.grantLease(2);
    const first = lease.aliveUntil;
    assert.ok(first > before && first <= Date.now() + 2000, `aliveUntil ${first - before} ms on`);
    await within(
      3000,
      "a keep-alive to renew the lease",
      new Promise<void>((resolve) => {
        const stop = lease.onRenewed(() => {
          stop();
          resolve();
        });
      }),
    );
    assert.ok(lease.aliveUntil > first);
    await lease.revoke();
  });
});

Deno.test("etcd store: a lease given up on while etcd was away is not revoked, so its keys live on", async () => {
  await withEtcd(async (etcd, stores) => {
    // A budget long enough that a revoke sent after the loss would reach the restarted etcd.
    const options = { endpoints: [etcd.endpoint], timeoutMs: 8000, logger: quietLogger };
    const holder = new EtcdStore(options);
    stores.push(holder);
    const lease = await holder.grantLease(2);
    await lease.put("/crawler/workers/w1", "{}");
    await etcd.stop();
    await within(
      4000,
      "the lease to be given up",
      new Promise((resolve) => lease.signal.addEventListener("abort", resolve, { once: true })),
    );
    await etcd.restart();
    const reader = new EtcdStore(options);
    stores.push(reader);
    // etcd renewed the lease when it restarted; nobody revoked it, so the key is still there.
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal((await reader.get("/crawler/workers/w1"))?.value, "{}");
  });
});

Deno.test("etcd store: openEtcdStore fails clearly when etcd is not there", async () => {
  const { openEtcdStore } = await import("./etcd_store.ts");
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await assert.rejects(
    openEtcdStore({ endpoints: [`127.0.0.1:${port}`], timeoutMs: 500, logger: quietLogger }),
    (error) => error instanceof StoreUnavailableError && error.message.includes(`${port}`),
  );
});

Deno.test("etcd store: with several endpoints, calls reach the one that answers", async () => {
  await withEtcd(async (etcd, stores) => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const dead = `127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
    listener.close();
    const store = new EtcdStore({
      endpoints: [dead, etcd.endpoint],
      timeoutMs: 3000,
      logger: quietLogger,
    });
    stores.push(store);
    for (let i = 0; i < 5; i++) {
      assert.equal(await store.create(`/multi/${i}`, "v"), true);
      assert.equal((await store.get(`/multi/${i}`))?.value, "v");
    }
    const { revision } = await store.getPrefix("/multi/");
    const watch = new Reader((signal) =>
      store.watchPrefix("/multi/", { fromRevision: revision - 4, signal })
    );
    try {
      assert.equal((await watch.take(5, "event through some endpoint")).length, 5);
    } finally {
      await watch.close();
    }
  });
});

Deno.test("etcd store: the raw etcd3 client sees the election keys like etcd's Go recipe", async () => {
  await withEtcd(async (etcd, stores) => {
    const store = new EtcdStore({ endpoints: [etcd.endpoint], logger: quietLogger });
    stores.push(store);
    const campaign = store.election("/crawler/election", 2).campaign("master1-127.0.0.1:9091");
    await within(5000, "elected", campaign.elected);
    const raw = new Etcd3({ hosts: [etcd.endpoint] });
    try {
      // etcd3's own Election uses the same recipe (lowest create revision under the prefix).
      const keys = await raw.getAll().prefix("/crawler/election/").sort("Create", "Ascend")
        .strings();
      assert.deepEqual(Object.values(keys), ["master1-127.0.0.1:9091"]);
    } finally {
      raw.close();
    }
    await campaign.resign();
  });
});

// ---- embedded only: persistence and time -----------------------------------------------------

class FakeClock implements Clock {
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
    await within(2000, "elected", campaign.elected);
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
    await within(
      2000,
      "debounced write",
      (async () => {
        while (!(await Deno.stat(path).then(() => true, () => false))) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      })(),
    );
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
