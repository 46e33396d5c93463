/**
 * The store contract (tests/contracts/store_contract.ts) on `EtcdStore` against a real etcd (one for the
 * contract, emptied between its cases), and what only etcd does: restarts, several endpoints,
 * the raw client's view of the election keys.
 */

import assert from "node:assert/strict";
import { Etcd3 } from "etcd3";
import { type EtcdServer, startEtcd } from "./kit/etcd.ts";
import { holdsFor, waitFor } from "./kit/wait.ts";
import { EtcdStore } from "../store/etcd_store.ts";
import {
  type Backend,
  candidates,
  quietLogger,
  Reader,
  storeContract,
  summary,
} from "./contracts/store_contract.ts";
import { StoreUnavailableError } from "../errors/mod.ts";
import { LeaseLostError, type StoreLogger } from "../store/store.ts";

Deno.test("etcd store: the store contract", async (t) => {
  await using etcd = await startEtcd();
  const raw = new Etcd3({ hosts: etcd.clientUrl });
  try {
    for (const { name, test } of storeContract) {
      const clients: EtcdStore[] = [];
      const backend: Backend = {
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
          // The next case starts on an empty store, as on a fresh etcd.
          await raw.delete().all();
        },
      };
      await t.step(name, async () => {
        try {
          await test(backend);
        } finally {
          await backend.dispose();
        }
      });
    }
  } finally {
    raw.close();
  }
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
      await waitFor(first.elected, { what: "first elected", timeoutMs: 5000 });
      const second = two.election("/crawler/election", 5).campaign("master2");
      await candidates(watcher, 2);
      const registration = await one.grantLease(5);
      await registration.put("/crawler/workers/w1", "{}");
      assert.equal(await observer.next("first observation"), "master1");

      await etcd.stop();
      // The outage under test: etcd away for 500 ms.
      await new Promise((resolve) => setTimeout(resolve, 500));
      await etcd.restart();
      const restartedAt = Date.now();
      // The keep-alives go through again (well within the 5 s TTL).
      await waitFor(() => registration.aliveUntil > restartedAt + 4000, {
        what: "a keep-alive after the restart",
        timeoutMs: 5000,
      });

      assert.equal(first.signal.aborted, false, "the leader kept its lease");
      assert.equal(registration.signal.aborted, false, "the registration kept its lease");
      assert.equal((await watcher.get("/crawler/workers/w1"))?.value, "{}");
      assert.ok(await observer.nothingWithin(300), "no spurious leader change");

      await first.resign();
      await waitFor(second.elected, { what: "second elected after the restart", timeoutMs: 5000 });
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
    await waitFor(
      new Promise((resolve) => {
        lease.signal.addEventListener("abort", resolve, { once: true });
      }),
      { what: "lease to be declared lost", timeoutMs: 4000 },
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
    await waitFor(
      new Promise<void>((resolve) => {
        const stop = lease.onRenewed(() => {
          stop();
          resolve();
        });
      }),
      { what: "a keep-alive to renew the lease", timeoutMs: 3000 },
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
    await waitFor(
      new Promise((resolve) => lease.signal.addEventListener("abort", resolve, { once: true })),
      { what: "the lease to be given up", timeoutMs: 4000 },
    );
    await etcd.restart();
    const reader = new EtcdStore(options);
    stores.push(reader);
    // etcd renewed the lease when it restarted; nobody revokes it, so the key stays.
    await holdsFor(async () => (await reader.get("/crawler/workers/w1"))?.value === "{}", {
      what: "the key there",
      forMs: 500,
    });
  });
});

Deno.test("etcd store: openEtcdStore fails clearly when etcd is not there", async () => {
  const { openEtcdStore } = await import("../store/etcd_store.ts");
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
    await waitFor(campaign.elected, { what: "elected", timeoutMs: 5000 });
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
