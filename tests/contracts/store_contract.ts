/**
 * @module
 * One contract every store keeps, as a list of cases run against each implementation: the
 * embedded store in-process (store/store_contract_test.ts) and `EtcdStore` against a real etcd
 * (tests/etcd_store_test.ts). What only one implementation does is tested there.
 */

import assert from "node:assert/strict";
import { holdsFor, waitFor } from "../kit/wait.ts";
import {
  GuardFailedError,
  type KeyValue,
  LeaseLostError,
  type Store,
  type StoreLogger,
  WatchCompactedError,
  type WatchEvent,
  type WriteGuard,
} from "../../store/store.ts";

/** A store with the operator calls the tests use to break things on purpose. */
export type TestStore = Store & {
  revokeLease(id: string): Promise<boolean>;
  compact(revision: number): Promise<void>;
};

/** One backend for a test; `client()` is another process' view of it (the same one in-process). */
export interface Backend {
  client(): Promise<TestStore>;
  dispose(): Promise<void>;
}

export const quietLogger: StoreLogger = {
  warn: () => {},
  error: (...args) => console.error(...args),
};

/**
 * Reads a watch (or an observer) item by item, each read bounded in time. It owns the signal
 * passed to the iterable: `close()` aborts it, as a consumer blocked in `next()` must.
 */
export class Reader<T> {
  readonly #controller = new AbortController();
  readonly #iterator: AsyncIterator<T>;
  #pending: Promise<IteratorResult<T>> | undefined;

  constructor(open: (signal: AbortSignal) => AsyncIterable<T>) {
    this.#iterator = open(this.#controller.signal)[Symbol.asyncIterator]();
  }

  async next(what: string, ms = 5000): Promise<T> {
    const pending = this.#pending ?? this.#iterator.next();
    this.#pending = pending;
    const result = await waitFor(pending, { what: what, timeoutMs: ms });
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
    await waitFor((this.#pending ?? Promise.resolve()).catch(() => {}), {
      what: "reader to close",
      timeoutMs: 5000,
    });
    await this.#iterator.return?.();
  }
}

/** Waits until `count` candidates have their keys under the election prefix. */
export function candidates(store: Store, count: number): Promise<KeyValue[]> {
  return waitFor(async () => {
    const { kvs } = await store.getPrefix("/crawler/election/");
    return kvs.length === count && kvs;
  }, { what: `${count} candidates`, timeoutMs: 5000 });
}

export function summary(event: WatchEvent): string {
  return event.type === "put"
    ? `put ${event.key}=${event.kv.value} prev=${event.prevKv?.value ?? "-"}`
    : `delete ${event.key} prev=${event.prevKv?.value ?? "-"}`;
}

/** One case of the contract: a test of a fresh backend, which it does not dispose of. */
export interface ContractCase {
  name: string;
  test: (backend: Backend) => Promise<void>;
}

/** The contract's cases, in order. */
export const storeContract: ContractCase[] = [];

function shared(name: string, test: (backend: Backend) => Promise<void>): void {
  storeContract.push({ name, test });
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
  // A watch that saw nothing for a while (200 ms) ends on the abort.
  await holdsFor(() => seen.length === 0, { what: "no event", forMs: 200 });
  controller.abort();
  await waitFor(done, { what: "watch to end after abort", timeoutMs: 3000 });
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
      await waitFor(
        new Promise((resolve) => {
          if (lease.signal.aborted) resolve(undefined);
          lease.signal.addEventListener("abort", resolve, { once: true });
        }),
        { what: "lease signal to abort", timeoutMs: 3000 },
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
  // Kept alive for 2.5 TTLs: the time is the behaviour under test.
  await holdsFor(() => !lease.signal.aborted, { what: "the lease alive", forMs: 2500 });
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
  await waitFor(
    new Promise((resolve) => {
      if (lease.signal.aborted) resolve(undefined);
      lease.signal.addEventListener("abort", resolve, { once: true });
    }),
    { what: "holder to notice", timeoutMs: 4000 },
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
    await waitFor(first.elected, { what: "first candidate elected", timeoutMs: 5000 });
    const second = two.election("/crawler/election", 2).campaign("master2");
    assert.equal(await observer.next("first leader"), "master1");
    assert.equal(await watcher.election("/crawler/election", 2).leader(), "master1");
    let secondElected = false;
    second.elected.then(() => secondElected = true, () => {});
    // Only one leader at a time: the second is not elected for a while (500 ms).
    await holdsFor(() => !secondElected, { what: "the second not elected", forMs: 500 });
    // The key layout is etcd's: <prefix>/<lease id in hex>.
    const { kvs } = await watcher.getPrefix("/crawler/election/");
    assert.equal(kvs.length, 2);
    for (const kv of kvs) {
      assert.equal(kv.key, `/crawler/election/${BigInt(kv.lease!).toString(16)}`);
    }
    await first.resign();
    assert.ok(first.signal.aborted);
    await waitFor(second.elected, { what: "second candidate elected", timeoutMs: 5000 });
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
    await waitFor(first.elected, { what: "first elected", timeoutMs: 5000 });
    const second = two.election("/crawler/election", 2).campaign("master2");
    assert.equal(await observer.next("first observation"), "master1");
    // Simulate the leader losing its lease (as when etcd expires it): revoke it from elsewhere.
    const leaderKey = (await candidates(watcher, 2)).find((kv) => kv.value === "master1")!;
    assert.equal(await watcher.revokeLease(leaderKey.lease!), true);
    await waitFor(second.elected, { what: "second elected", timeoutMs: 5000 });
    assert.equal(await observer.next("new leader"), "master2");
    await waitFor(
      new Promise((resolve) => {
        if (first.signal.aborted) resolve(undefined);
        first.signal.addEventListener("abort", resolve, { once: true });
      }),
      { what: "old leader to learn it lost", timeoutMs: 5000 },
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
    await waitFor(leader.elected, { what: "leader elected", timeoutMs: 5000 });
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
    await waitFor(waiting.elected, { what: "the other candidate elected", timeoutMs: 5000 });
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
  await waitFor(leader.elected, { what: "leader elected", timeoutMs: 5000 });
  const waiting = election.campaign("master2");
  await candidates(store, 2);
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
  await waitFor(first.elected, { what: "first elected", timeoutMs: 5000 });
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
  await waitFor(second.elected, {
    what: "second elected after the first store closed",
    timeoutMs: 5000,
  });
  await second.resign();
});
