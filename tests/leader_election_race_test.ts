/**
 * @module
 * The election race of issue 18: just after an election the leader could answer 503 "no worker
 * is registered" while the registry in etcd already listed workers, because its view of the
 * registry was its first read plus a watch that trails the store (a worker that registered
 * after the read, or while the watch was being set up, was unknown for a moment). Fifty
 * elections in one process on a real etcd, with two workers registered: half of them while the
 * workers register again (new leases) around the election. Every add, through the new leader
 * and through the follower, must be placed.
 */
import assert from "node:assert/strict";
import { errorReply, NotLeaderError, NoWorkerError } from "../errors/mod.ts";
import type { LeaderClient } from "../master/leader_client.ts";
import { Master } from "../master/master.ts";
import { registerWorker } from "../master/_testing.ts";
import { silentLogger } from "../log/logger.ts";
import { WORKERS_PREFIX } from "../proto/keys.ts";
import { builtinRuleSets } from "../rulesets/mod.ts";
import { openEtcdStore } from "../store/etcd_store.ts";
import type { Lease } from "../store/store.ts";
import { startEtcd, waitFor } from "./kit/mod.ts";

const ELECTIONS = 50;
const spec = { rule: "douban_book_list", url: "http://127.0.0.1:1/" };

Deno.test("a leader elected while two workers are registered never answers that no worker is", async () => {
  await using etcd = await startEtcd();
  const store = await openEtcdStore({
    endpoints: [etcd.endpoint],
    logger: { warn() {}, error() {} },
  });
  const masters = new Map<string, Master>(); // by gRPC address, as a follower forwards
  // Followers forward in-process: the address in the leader's id names the master.
  const leaderAt = (address: string): Master => {
    const master = masters.get(address);
    if (!master) throw new NotLeaderError(`no master at ${address} any more`);
    return master;
  };
  const leaderClient: LeaderClient = {
    addResource: async (address, request, options) =>
      await leaderAt(address).addResource(request, options),
    deleteResource: async (address, request, options) =>
      await leaderAt(address).deleteResource(request, options),
    setPaused: async (address, request, paused, options) =>
      await leaderAt(address).setPaused(request, paused, options),
    close() {},
  };
  let started = 0;
  const startMaster = (): Master => {
    started++;
    const address = `127.0.0.1:${20_000 + started}`;
    const master = new Master({
      store,
      id: `master${started}-${address}`,
      electionTtlSeconds: 2,
      ruleSets: builtinRuleSets().keys(),
      leaderClient,
      requestTimeoutMs: 5000,
      retryDelayMs: { initial: 10, max: 50 },
      logger: silentLogger,
    });
    masters.set(address, master);
    master.start();
    return master;
  };
  const register = () =>
    Promise.all([
      registerWorker(store, "crawler.worker-1", { ttlSeconds: 30, port: 9001 }),
      registerWorker(store, "crawler.worker-2", { ttlSeconds: 30, port: 9002 }),
    ]);
  let leases: Lease[] = await register();
  const refusals: string[] = [];
  try {
    startMaster();
    startMaster();
    const leader = async (): Promise<Master> => {
      let found: Master | undefined;
      await waitFor(() => {
        found = [...masters.values()].find((m) => m.isLeader);
        return found !== undefined;
      }, { what: "a leader", timeoutMs: 10_000 });
      return found!;
    };
    const startedAt = Date.now();
    for (let round = 0; round < ELECTIONS; round++) {
      const old = await leader();
      masters.delete(old.id.slice(old.id.indexOf("-") + 1));
      // Resigning hands leadership to the follower at once; a new follower stands behind it.
      const resigned = old.stop();
      const follower = startMaster();
      if (round % 2 === 1) {
        // The workers register again (new leases, as after an etcd restart) while the new
        // leader is elected and loads its state.
        const previous = leases;
        await Promise.all(previous.map((lease) => lease.revoke()));
        leases = await register();
      }
      await resigned;
      // What a client sees before it writes: both workers in the registry.
      const { kvs } = await store.getPrefix(WORKERS_PREFIX);
      assert.equal(kvs.length, 2);
      const writes = [
        follower.addResource({ name: `via-follower-${round}`, spec }),
        (async () => (await leader()).addResource({ name: `on-leader-${round}`, spec }))(),
      ];
      for (const outcome of await Promise.allSettled(writes)) {
        if (outcome.status === "fulfilled") continue;
        const error = outcome.reason;
        if (!(error instanceof NoWorkerError)) throw error;
        refusals.push(`election ${round + 1}: ${errorReply(error).status} ${error.message}`);
      }
    }
    console.log(`${ELECTIONS} elections in ${Date.now() - startedAt} ms`);
    assert.deepEqual(refusals, [], "a new leader said no worker was registered");
    assert.equal(
      (await store.getPrefix("/resources/")).kvs.length,
      2 * ELECTIONS,
      "every add was placed once",
    );
  } finally {
    for (const master of masters.values()) await master.stop();
    for (const lease of leases) await lease.revoke().catch(() => undefined);
    await store.close();
  }
});
