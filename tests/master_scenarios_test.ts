/**
 * @module
 * The leader under faults that used to pile tasks onto one worker (issue 10): an etcd restart
 * under three workers and 120 tasks, and a worker killed and brought back. Real etcd, real
 * `crawler master` and `crawler worker` processes.
 */
import assert from "node:assert/strict";
import { startDoubanFixture } from "./douban_fixture.ts";
import {
  Cluster,
  type ConfigInput,
  countPlacements,
  http,
  placedOn,
  spread,
  waitFor,
  waitForSteady,
} from "./kit/mod.ts";

/** What the scene's processes share: two fetch slots, no retry, a 2 s timeout. */
const FETCHER: ConfigInput = { fetcher: { concurrency: 2, retries: 0, timeout: 2000 } };

const TASKS = 120;

Deno.test("the leader keeps tasks in place across an etcd restart and gives a returning worker its share", async (t) => {
  await using scene = await Cluster.start({
    masters: 2,
    workers: 3,
    config: { ...FETCHER, MasterServer: { RebalanceInterval: 0.5, RebalanceMaxMoves: 20 } },
  });
  // Tasks that finish at once (nothing listens on port 1): placements are what is tested here.
  const spec = { rule: "douban_book_list", url: "http://127.0.0.1:1/", waitTime: 0, limits: [] };
  const master = scene.masters.get(1)!;
  try {
    for (let i = 0; i < TASKS; i += 10) {
      await Promise.all(Array.from({ length: 10 }, async (_, j) => {
        await waitFor(async () => {
          // A 503 leaves the outcome unknown: retried with the same Idempotency-Key.
          const answer = await http(master.url("/crawler/resource"), {
            method: "POST",
            json: { name: `s${i + j}`, spec },
            headers: { "Idempotency-Key": `scenario-add-s${i + j}` },
          });
          if (answer.status !== 503) assert.equal(answer.status, 200, JSON.stringify(answer.body));
          return answer.status === 200;
        }, { what: `task ${i + j} added`, timeoutMs: 10_000 });
      }));
    }
    const placementsNow = async () =>
      new Map((await scene.resources()).map((r) => [r.Name, placedOn(r).join(",")]));

    await scene.step(
      t,
      "an etcd restart moves fewer than 5 % of the tasks; loads stay within one",
      async () => {
        const before = await placementsNow();
        assert.equal(before.size, TASKS);
        assert.ok(spread(countPlacements(await scene.resources()).values()) <= 1);
        await scene.etcd.stop();
        // The outage under test: etcd away for a second.
        await new Promise((resolve) => setTimeout(resolve, 1000));
        await scene.etcd.restart();
        // Settled: every worker registered again, and placements unchanged for 3 s (past TTL and
        // grace, so a move the leader was going to make would have been made).
        const settled = await waitForSteady(
          async () => ({
            workers: (await scene.loads()).size,
            placements: [...await placementsNow()],
          }),
          {
            what: "placements to settle after the restart",
            forMs: 3000,
            timeoutMs: 30_000,
            accept: (value) => value.workers === 3,
          },
        );
        const after = new Map(settled.value.placements);
        const moved = [...before].filter(([name, on]) => after.get(name) !== on).length;
        console.log(`etcd restart: ${moved} of ${TASKS} tasks moved`);
        assert.equal(after.size, TASKS, "no task lost");
        assert.ok(moved < TASKS * 0.05, `${moved} of ${TASKS} tasks moved`);
        const loads = countPlacements(await scene.resources());
        assert.ok(spread(loads.values()) <= 1, `loads ${JSON.stringify([...loads])}`);
      },
    );

    await scene.step(t, "a worker killed and brought back gets its share back", async () => {
      const victim = scene.workers.get(3)!;
      await scene.signal(victim, "SIGKILL");
      await waitFor(async () => {
        const loads = countPlacements(await scene.resources());
        return !loads.has(victim.id) && spread(loads.values()) <= 1;
      }, { what: "its tasks to move to the others", timeoutMs: 15_000 });
      const back = await scene.startWorker(3);
      const startedAt = Date.now();
      await waitFor(async () => {
        const loads = countPlacements(await scene.resources());
        return (loads.get(back.id) ?? 0) >= Math.floor(TASKS / 3) && spread(loads.values()) <= 1;
      }, { what: "the returning worker to get its share", timeoutMs: 60_000 });
      console.log(`a returning worker had its share back ${Date.now() - startedAt} ms after start`);
      await waitFor(async () => {
        const { body } = await http(back.url("/tasks"));
        return (body.tasks as unknown[]).length >= Math.floor(TASKS / 3);
      }, { what: "the worker to run its share", timeoutMs: 10_000 });
    });
    assert.deepEqual(scene.crashed, [], "no process died on its own");
  } catch (error) {
    scene.dumpLogs();
    throw error;
  }
});

Deno.test("a task with workers: 2 runs on two worker processes; a dead one is replaced on the free one", async () => {
  await using scene = await Cluster.start({
    masters: 1,
    workers: 3,
    postgres: true,
    config: FETCHER,
  });
  const site = startDoubanFixture({ tags: 20, booksPerTag: 100, latencyMs: 40, failOnceEvery: 0 });
  const spec = { rule: "douban_book_list", url: `${site.url}/`, waitTime: 0, limits: [] };
  const master = scene.masters.get(1)!;
  const runners = async () =>
    [...(await scene.running())].filter(([, names]) => names.includes("wide")).map(([id]) => id)
      .sort();
  try {
    const added = await http(master.url("/crawler/resource"), {
      method: "POST",
      json: { id: "wide-1", name: "wide", spec: { ...spec, workers: 2 } },
    });
    assert.equal(added.status, 200, JSON.stringify(added.body));
    const [resource] = await scene.resources();
    const placed = placedOn(resource).sort();
    assert.equal(placed.length, 2);
    assert.equal(resource.AssignedNode.split("|")[0], added.body.id, "AssignedNode is the first");
    await waitFor(async () => {
      return JSON.stringify(await runners()) === JSON.stringify(placed);
    }, { what: "both placements to run it", timeoutMs: 5000 });

    const victim = [...scene.workers.values()].find((w) => w.id === placed[1])!;
    const free = [...scene.workers.values()].find((w) => !placed.includes(w.id))!;
    const killedAt = Date.now();
    await scene.signal(victim, "SIGKILL");
    await waitFor(async () => {
      const now = await runners();
      return now.includes(free.id) && now.includes(placed[0]);
    }, { what: "a replacement on the free worker", timeoutMs: (2 + 2) * 1000 + 2000 });
    console.log(`replacement placement running ${Date.now() - killedAt} ms after kill -9`);
    assert.deepEqual(placedOn((await scene.resources())[0]).sort(), [placed[0], free.id].sort());
  } catch (error) {
    scene.dumpLogs();
    throw error;
  } finally {
    await site.close();
  }
});
