/**
 * @module
 * Workers in cluster mode, as real processes on a real etcd with a real master: they crawl
 * exactly what the leader assigns them, start and stop tasks within a second of the change,
 * take over a killed worker's tasks, and come through an etcd restart with every task running
 * on exactly one worker. Each task crawls its own douban-like fixture site, which records the
 * paths requested.
 */
import assert from "node:assert/strict";
import { openEtcdStore } from "../store/etcd_store.ts";
import { resourceKey } from "../proto/keys.ts";
import { buildAssignedNode } from "../proto/assigned_node.ts";
import { decodeResourceSpec, encodeResourceSpec } from "../proto/resource_spec.ts";
import { type DoubanFixture, startDoubanFixture } from "./douban_fixture.ts";
import { startEtcd } from "./etcd_server.ts";
import {
  agreedLeader,
  dumpLogs,
  http,
  MasterProcess,
  waitUntil,
  WorkerProcess,
} from "./cluster_harness.ts";

const TTL_SECONDS = 2;
/** How long the leader waits for a vanished worker to come back (`MasterServer.WorkerGrace`). */
const GRACE_SECONDS = 1;

async function writeConfig(dir: string, name: string): Promise<string> {
  const path = `${dir}/${name}.toml`;
  await Deno.writeTextFile(
    path,
    `logLevel = "info"
[fetcher]
concurrency = 2
[storage]
sqlURL = "sqlite:${dir}/${name}.db"
[frontier]
url = "sqlite:${dir}/frontier.db"
leaseTime = 1
[GRPCServer]
RegisterTTL = ${TTL_SECONDS}
RegisterInterval = 1
ClientTimeOut = 3
[MasterServer]
ElectionTTL = ${TTL_SECONDS}
ClientTimeOut = 3
WorkerGrace = ${GRACE_SECONDS}
`,
  );
  return path;
}

/** A site slow and large enough that a task keeps crawling for the whole test. */
function slowSite(): DoubanFixture {
  return startDoubanFixture({ tags: 20, booksPerTag: 100, latencyMs: 40, failOnceEvery: 0 });
}

function specFor(site: DoubanFixture) {
  return { rule: "douban_book_list", url: `${site.url}/`, waitTime: 0, reload: false, limits: [] };
}

interface TaskStatus {
  name: string;
  state: string;
}

async function runningOn(worker: WorkerProcess): Promise<string[]> {
  const { body } = await http(worker.url("/tasks"));
  return (body.tasks as TaskStatus[]).filter((t) => t.state === "running").map((t) => t.name);
}

/** Waits until `site` has had no request for `quietMs`; returns when its last request came. */
async function quietSince(
  site: DoubanFixture,
  quietMs: number,
  timeoutMs: number,
): Promise<number> {
  let count = site.log.length;
  let lastChange = Date.now();
  const deadline = Date.now() + timeoutMs;
  while (Date.now() - lastChange < quietMs) {
    if (Date.now() > deadline) throw new Error("the site never went quiet");
    await new Promise((r) => setTimeout(r, 20));
    if (site.log.length !== count) {
      count = site.log.length;
      lastChange = Date.now();
    }
  }
  return lastChange;
}

Deno.test("workers in cluster mode follow their assignments live", async (t) => {
  const etcd = await startEtcd();
  const dir = await Deno.makeTempDir();
  const sites: DoubanFixture[] = [];
  const processes: Array<MasterProcess | WorkerProcess> = [];
  const store = await openEtcdStore({
    endpoints: [etcd.endpoint],
    logger: { warn() {}, error() {} },
  });
  try {
    // One process at a time, each listening before the next picks its free ports: a port
    // picked while another process is still starting may be the one it is about to bind.
    const master = new MasterProcess(1, etcd.endpoint, await writeConfig(dir, "master"));
    processes.push(master);
    await agreedLeader([master]);
    const workers: WorkerProcess[] = [];
    for (const n of [1, 2]) {
      const worker = new WorkerProcess(n, etcd.endpoint, await writeConfig(dir, `worker${n}`));
      processes.push(worker);
      workers.push(worker);
      await waitUntil(
        `${worker.id} to listen`,
        20_000,
        async () => (await http(worker.url("/healthz"))).status === 200,
      );
    }
    await waitUntil("both workers to register", 20_000, async () => {
      const { body } = await http(master.url("/crawler/workers"));
      return (body.workers as unknown[]).length === 2;
    });
    for (const w of workers) {
      await waitUntil(
        `${w.id} to be ready`,
        10_000,
        async () => (await http(w.url("/readyz"))).status === 200,
      );
    }
    const byId = (id: unknown) => workers.find((w) => w.id === id)!;
    const add = async (name: string, site: DoubanFixture) => {
      const answer = await http(master.url("/crawler/resource"), {
        method: "POST",
        json: { name, spec: specFor(site) },
      });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      return byId(answer.body.id);
    };

    await t.step(
      "an added resource starts on its worker within a second; a delete stops it within a second",
      async () => {
        const site = slowSite();
        sites.push(site);
        const worker = await add("first", site);
        const addedAt = Date.now();
        await waitUntil("the first request", 1000, () => site.requests.has("/"));
        console.log(`started crawling ${Date.now() - addedAt} ms after the add answered`);
        assert.deepEqual(await runningOn(worker), ["first"]);
        // The Address the master handed out is the worker's live gRPC port.
        const conn = await Deno.connect({ hostname: "127.0.0.1", port: worker.grpcPort });
        conn.close();
        assert.deepEqual(await runningOn(workers.find((w) => w !== worker)!), []);

        await waitUntil("detail pages to be crawled", 5000, () => site.log.length > 20);
        const deletedAt = Date.now();
        const answer = await http(master.url("/crawler/resource"), {
          method: "DELETE",
          json: { name: "first" },
        });
        assert.equal(answer.status, 200);
        const lastRequest = await quietSince(site, 1000, 5000);
        console.log(`last request ${lastRequest - deletedAt} ms after the delete answered`);
        assert.ok(
          lastRequest - deletedAt <= 1000,
          `requests went on for ${lastRequest - deletedAt} ms`,
        );
        assert.deepEqual(await runningOn(worker), []);
      },
    );

    await t.step(
      "a task moved to the other worker stops on one and its crawl goes on on the other",
      async () => {
        const site = slowSite();
        sites.push(site);
        const from = await add("moving", site);
        const to = workers.find((w) => w !== from)!;
        // A list page requested means the root was acknowledged: its children were queued.
        await waitUntil("the crawl to start", 2000, () => site.requests.has("/tag/T0"));
        // Reassign it the way a leader does: a put of the resource with another AssignedNode.
        const kv = await store.get(resourceKey("moving"));
        const resource = decodeResourceSpec(kv!.value);
        resource.AssignedNode = buildAssignedNode({
          workerId: to.id,
          address: `127.0.0.1:${to.grpcPort}`,
        });
        await store.put(resourceKey("moving"), encodeResourceSpec(resource));
        await waitUntil("the move", 1000, async () => {
          const [there, here] = await Promise.all([runningOn(to), runningOn(from)]);
          return there.includes("moving") && !here.includes("moving");
        });
        // Both share the frontier: the new worker continues the crawl (a new resource would
        // start a new one).
        const movedAt = site.log.length;
        await waitUntil("the crawl to go on on the new worker", 2000, () => {
          return site.log.length > movedAt + 5;
        });
        assert.equal(site.requests.get("/"), 1, "the root, acknowledged, is not fetched again");
      },
    );

    await t.step(
      "kill -9 a worker: the survivor crawls its tasks within RegisterTTL + WorkerGrace + 1 s",
      async () => {
        const site = slowSite();
        sites.push(site);
        const victim = await add("orphan", site);
        const survivor = workers.find((w) => w !== victim)!;
        await waitUntil("the task to start", 1000, () => site.requests.has("/"));
        const killedAt = Date.now();
        await victim.stop("SIGKILL");
        // Requests from now on are the survivor's: it continues the crawl from the shared
        // frontier once the victim's leases (leaseTime = 1 s) have expired.
        const requestsAtKill = site.log.length;
        await waitUntil(
          "the survivor to crawl the orphan",
          (TTL_SECONDS + GRACE_SECONDS) * 1000 + 1000,
          () => site.log.length > requestsAtKill + 2,
        );
        console.log(
          `survivor took over ${Date.now() - killedAt} ms after kill -9 (TTL ${TTL_SECONDS} s)`,
        );
        assert.ok((await runningOn(survivor)).includes("orphan"));
        const { body } = await http(master.url("/crawler/resource"));
        for (const r of body.resources as Array<{ Name: string; AssignedNode: string }>) {
          assert.ok(
            r.AssignedNode.startsWith(`${survivor.id}|`),
            `${r.Name} is on ${r.AssignedNode}`,
          );
        }
        workers.splice(workers.indexOf(victim), 1);
      },
    );

    await t.step(
      "an etcd restart under a running cluster leaves every task on exactly one worker",
      async () => {
        const third = new WorkerProcess(3, etcd.endpoint, await writeConfig(dir, "worker3"));
        processes.push(third);
        workers.push(third);
        await waitUntil(
          "the new worker",
          10_000,
          async () => (await http(third.url("/readyz"))).status === 200,
        );
        for (const name of ["r1", "r2", "r3"]) {
          const site = slowSite();
          sites.push(site);
          await add(name, site);
        }
        const expected = ["moving", "orphan", "r1", "r2", "r3"].sort();
        const allRunning = async () => (await Promise.all(workers.map(runningOn)));
        await waitUntil(
          "all tasks to run",
          3000,
          async () => (await allRunning()).flat().length === 5,
        );

        // Sample which worker runs what, all through the outage: never one task on two workers.
        // Two answers saying "running" prove a double run only if each worker had started the
        // task before the other was asked: otherwise one may have stopped it (and released it)
        // between the two answers, which is a handover, not a double run.
        let sampling = true;
        const rounds: Array<Array<{ sentAt: number; running: Map<string, number> }>> = [];
        const sampler = (async () => {
          while (sampling) {
            try {
              rounds.push(
                await Promise.all(workers.map(async (w) => {
                  const sentAt = Date.now();
                  const { body } = await http(w.url("/tasks"));
                  const tasks = body.tasks as Array<TaskStatus & { stats?: { startedAt: number } }>;
                  return {
                    sentAt,
                    running: new Map(
                      tasks.filter((t) => t.state === "running" && t.stats).map((
                        t,
                      ) => [t.name, t.stats!.startedAt]),
                    ),
                  };
                })),
              );
            } catch {
              /* a worker busy reconciling; the next sample counts */
            }
            await new Promise((r) => setTimeout(r, 15));
          }
        })();
        await etcd.stop();
        await new Promise((r) => setTimeout(r, 800));
        await etcd.restart();
        await new Promise((r) => setTimeout(r, (TTL_SECONDS + 2) * 1000));
        sampling = false;
        await sampler;

        for (const round of rounds) {
          for (let i = 0; i < round.length; i++) {
            for (let j = i + 1; j < round.length; j++) {
              for (const [name, sinceA] of round[i].running) {
                const sinceB = round[j].running.get(name);
                const both = sinceB !== undefined && sinceB <= round[i].sentAt &&
                  sinceA <= round[j].sentAt;
                assert.ok(!both, `task ${name} ran on ${workers[i].id} and ${workers[j].id}`);
              }
            }
          }
        }
        const final = await allRunning();
        assert.deepEqual(final.flat().sort(), expected, "none lost");
        // What runs where matches the assignments in etcd.
        const { body } = await http(master.url("/crawler/resource"));
        for (const r of body.resources as Array<{ Name: string; AssignedNode: string }>) {
          const owner = workers.findIndex((w) => r.AssignedNode.startsWith(`${w.id}|`));
          assert.ok(owner >= 0 && final[owner].includes(r.Name), `${r.Name} on ${r.AssignedNode}`);
        }
        // The tasks kept crawling after the restart.
        const counts = sites.slice(-3).map((s) => s.log.length);
        await new Promise((r) => setTimeout(r, 500));
        sites.slice(-3).forEach((s, i) =>
          assert.ok(s.log.length > counts[i], `task r${i + 1} stalled`)
        );
      },
    );
  } catch (error) {
    dumpLogs(processes);
    throw error;
  } finally {
    for (const p of processes) await p.stop("SIGKILL");
    await store.close();
    for (const site of sites) await site.close();
    await etcd.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});
