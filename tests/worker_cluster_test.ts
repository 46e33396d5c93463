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
import {
  Cluster,
  type CrawlerProcess,
  every,
  holdsFor,
  http,
  waitFor,
  waitForSteady,
} from "./kit/mod.ts";

const TTL_SECONDS = 2;
/** How long the leader waits for a vanished worker to come back (`MasterServer.WorkerGrace`). */
const GRACE_SECONDS = 1;

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

async function runningOn(worker: CrawlerProcess): Promise<string[]> {
  const { body } = await http(worker.url("/tasks"));
  return (body.tasks as TaskStatus[]).filter((t) => t.state === "running").map((t) => t.name);
}

Deno.test("workers in cluster mode follow their assignments live", async (t) => {
  // The workers share one frontier file: a task moved to another worker goes on with its crawl.
  await using cluster = await Cluster.start({
    masters: 1,
    workers: 2,
    ttlSeconds: TTL_SECONDS,
    config: ({ dir }) => ({
      fetcher: { concurrency: 2 },
      frontier: { url: `sqlite:${dir}/frontier.db`, leaseTime: 1 },
      MasterServer: { WorkerGrace: GRACE_SECONDS },
    }),
  });
  const etcd = cluster.etcd;
  const sites: DoubanFixture[] = [];
  const store = await openEtcdStore({
    endpoints: [etcd.endpoint],
    logger: { warn() {}, error() {} },
  });
  try {
    const master = cluster.masters.get(1)!;
    const workers = [...cluster.workers.values()];
    for (const w of workers) {
      await waitFor(async () => (await http(w.url("/readyz"))).status === 200, {
        what: `${w.id} to be ready`,
        timeoutMs: 10_000,
      });
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

    await cluster.step(
      t,
      "an added resource starts on its worker within a second; a delete stops it within a second",
      async () => {
        const site = slowSite();
        sites.push(site);
        const worker = await add("first", site);
        const addedAt = Date.now();
        await waitFor(() => site.requests.has("/"), { what: "the first request", timeoutMs: 1000 });
        console.log(`started crawling ${Date.now() - addedAt} ms after the add answered`);
        assert.deepEqual(await runningOn(worker), ["first"]);
        // The Address the master handed out is the worker's live gRPC port.
        const conn = await Deno.connect({ hostname: "127.0.0.1", port: worker.grpcPort });
        conn.close();
        assert.deepEqual(await runningOn(workers.find((w) => w !== worker)!), []);

        await waitFor(() => site.log.length > 20, {
          what: "detail pages to be crawled",
          timeoutMs: 5000,
        });
        const deletedAt = Date.now();
        const answer = await http(master.url("/crawler/resource"), {
          method: "DELETE",
          json: { name: "first" },
        });
        assert.equal(answer.status, 200);
        // Quiet for a second: the time of its last request is when the task stopped.
        const { since: lastRequest } = await waitForSteady(() => site.log.length, {
          what: "the site to go quiet",
          forMs: 1000,
          timeoutMs: 5000,
        });
        console.log(`last request ${lastRequest - deletedAt} ms after the delete answered`);
        assert.ok(
          lastRequest - deletedAt <= 1000,
          `requests went on for ${lastRequest - deletedAt} ms`,
        );
        assert.deepEqual(await runningOn(worker), []);
      },
    );

    await cluster.step(
      t,
      "a task moved to the other worker stops on one and its crawl goes on on the other",
      async () => {
        const site = slowSite();
        sites.push(site);
        const from = await add("moving", site);
        const to = workers.find((w) => w !== from)!;
        // A list page requested means the root was acknowledged: its children were queued.
        await waitFor(() => site.requests.has("/tag/T0"), {
          what: "the crawl to start",
          timeoutMs: 2000,
        });
        // Reassign it the way a leader does: a put of the resource with another AssignedNode.
        const kv = await store.get(resourceKey("moving"));
        const resource = decodeResourceSpec(kv!.value);
        resource.AssignedNode = buildAssignedNode({
          workerId: to.id,
          address: `127.0.0.1:${to.grpcPort}`,
        });
        await store.put(resourceKey("moving"), encodeResourceSpec(resource));
        await waitFor(async () => {
          const [there, here] = await Promise.all([runningOn(to), runningOn(from)]);
          return there.includes("moving") && !here.includes("moving");
        }, { what: "the move", timeoutMs: 1000 });
        // Both share the frontier: the new worker continues the crawl (a new resource would
        // start a new one).
        const movedAt = site.log.length;
        await waitFor(() => {
          return site.log.length > movedAt + 5;
        }, { what: "the crawl to go on on the new worker", timeoutMs: 2000 });
        assert.equal(site.requests.get("/"), 1, "the root, acknowledged, is not fetched again");
      },
    );

    await cluster.step(
      t,
      "kill -9 a worker: the survivor crawls its tasks within RegisterTTL + WorkerGrace + 1 s",
      async () => {
        const site = slowSite();
        sites.push(site);
        const victim = await add("orphan", site);
        const survivor = workers.find((w) => w !== victim)!;
        await waitFor(() => site.requests.has("/"), { what: "the task to start", timeoutMs: 1000 });
        const killedAt = Date.now();
        await cluster.signal(victim, "SIGKILL");
        // Requests from now on are the survivor's: it continues the crawl from the shared
        // frontier once the victim's leases (leaseTime = 1 s) have expired.
        const requestsAtKill = site.log.length;
        await waitFor(() => site.log.length > requestsAtKill + 2, {
          what: "the survivor to crawl the orphan",
          timeoutMs: (TTL_SECONDS + GRACE_SECONDS) * 1000 + 1000,
        });
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

    await cluster.step(
      t,
      "an etcd restart under a running cluster leaves every task on exactly one worker",
      async () => {
        const third = await cluster.startWorker(3);
        workers.push(third);
        await waitFor(async () => (await http(third.url("/readyz"))).status === 200, {
          what: "the new worker",
          timeoutMs: 10_000,
        });
        for (const name of ["r1", "r2", "r3"]) {
          const site = slowSite();
          sites.push(site);
          await add(name, site);
        }
        const expected = ["moving", "orphan", "r1", "r2", "r3"].sort();
        const allRunning = async () => (await Promise.all(workers.map(runningOn)));
        await waitFor(async () => (await allRunning()).flat().length === 5, {
          what: "all tasks to run",
          timeoutMs: 3000,
        });

        // Sample which worker runs what, all through the outage: never one task on two workers.
        // Two answers saying "running" prove a double run only if each worker had started the
        // task before the other was asked: otherwise one may have stopped it (and released it)
        // between the two answers, which is a handover, not a double run.
        const rounds: Array<Array<{ sentAt: number; running: Map<string, number> }>> = [];
        const sampler = every(15, async () => {
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
        });
        await etcd.stop();
        // The outage under test: etcd away for 800 ms.
        await new Promise((r) => setTimeout(r, 800));
        await etcd.restart();
        const doubleRuns = () => {
          const found: string[] = [];
          for (const round of rounds) {
            for (let i = 0; i < round.length; i++) {
              for (let j = i + 1; j < round.length; j++) {
                for (const [name, sinceA] of round[i].running) {
                  const sinceB = round[j].running.get(name);
                  if (
                    sinceB !== undefined && sinceB <= round[i].sentAt && sinceA <= round[j].sentAt
                  ) found.push(`task ${name} ran on ${workers[i].id} and ${workers[j].id}`);
                }
              }
            }
          }
          return found;
        };
        // Watched past the TTL after the restart: a lease run out or a task moved shows by then.
        await holdsFor(() => doubleRuns().length === 0, {
          what: "no task on two workers",
          forMs: (TTL_SECONDS + 2) * 1000,
          intervalMs: 250,
        });
        await sampler.stop();
        assert.deepEqual(doubleRuns(), []);
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
        await waitFor(() => sites.slice(-3).every((s, i) => s.log.length > counts[i]), {
          what: "tasks r1, r2 and r3 to crawl on",
          timeoutMs: 2000,
        });
      },
    );
  } catch (error) {
    cluster.dumpLogs();
    throw error;
  } finally {
    await store.close();
    for (const site of sites) await site.close();
  }
});
