/**
 * @module
 * The leader under faults that used to pile tasks onto one worker (issue 10): an etcd restart
 * under three workers and 120 tasks, and a worker killed and brought back. Real etcd, real
 * `crawler master` and `crawler worker` processes.
 */
import assert from "node:assert/strict";
import { dumpLogs, http, waitUntil } from "./cluster_harness.ts";
import { ClusterScene, countPlacements, placedOn, spread } from "./_cluster_scene.ts";
import { startDoubanFixture } from "./douban_fixture.ts";
import { startPostgres } from "./postgres_server.ts";

const TASKS = 120;

Deno.test("the leader keeps tasks in place across an etcd restart and gives a returning worker its share", async (t) => {
  await using scene = await ClusterScene.start({
    masters: 2,
    workers: 3,
    masterConfig: "RebalanceInterval = 0.5\nRebalanceMaxMoves = 20",
  });
  // Tasks that finish at once (nothing listens on port 1): placements are what is tested here.
  const spec = { rule: "douban_book_list", url: "http://127.0.0.1:1/", waitTime: 0, limits: [] };
  const master = scene.masters.get(1)!;
  try {
    for (let i = 0; i < TASKS; i += 10) {
      await Promise.all(Array.from({ length: 10 }, async (_, j) => {
        await waitUntil(`task ${i + j} added`, 10_000, async () => {
          // A 503 leaves the outcome unknown: retried with the same Idempotency-Key.
          const answer = await http(master.url("/crawler/resource"), {
            method: "POST",
            json: { name: `s${i + j}`, spec },
            headers: { "Idempotency-Key": `scenario-add-s${i + j}` },
          });
          if (answer.status !== 503) assert.equal(answer.status, 200, JSON.stringify(answer.body));
          return answer.status === 200;
        });
      }));
    }
    const placementsNow = async () =>
      new Map((await scene.resources()).map((r) => [r.Name, placedOn(r).join(",")]));

    await t.step(
      "an etcd restart moves fewer than 5 % of the tasks; loads stay within one",
      async () => {
        const before = await placementsNow();
        assert.equal(before.size, TASKS);
        assert.ok(spread(countPlacements(await scene.resources()).values()) <= 1);
        await scene.etcd.stop();
        await new Promise((resolve) => setTimeout(resolve, 1000));
        await scene.etcd.restart();
        // Settled: every worker registered again, and placements unchanged for 3 s (past TTL and
        // grace, so a move the leader was going to make would have been made).
        let after = new Map<string, string>();
        let stableSince = Date.now();
        await waitUntil("placements to settle after the restart", 30_000, async () => {
          const now = await placementsNow();
          if ((await scene.loads()).size !== 3) return false;
          if ([...now].some(([name, on]) => after.get(name) !== on) || now.size !== after.size) {
            after = now;
            stableSince = Date.now();
          }
          return Date.now() - stableSince >= 3000;
        });
        const moved = [...before].filter(([name, on]) => after.get(name) !== on).length;
        console.log(`etcd restart: ${moved} of ${TASKS} tasks moved`);
        assert.equal(after.size, TASKS, "no task lost");
        assert.ok(moved < TASKS * 0.05, `${moved} of ${TASKS} tasks moved`);
        const loads = countPlacements(await scene.resources());
        assert.ok(spread(loads.values()) <= 1, `loads ${JSON.stringify([...loads])}`);
      },
    );

    await t.step("a worker killed and brought back gets its share back", async () => {
      const victim = scene.workers.get(3)!;
      await scene.signal(victim, "SIGKILL");
      await waitUntil("its tasks to move to the others", 15_000, async () => {
        const loads = countPlacements(await scene.resources());
        return !loads.has(victim.id) && spread(loads.values()) <= 1;
      });
      const back = await scene.startWorker(3);
      const startedAt = Date.now();
      await waitUntil("the returning worker to get its share", 60_000, async () => {
        const loads = countPlacements(await scene.resources());
        return (loads.get(back.id) ?? 0) >= Math.floor(TASKS / 3) && spread(loads.values()) <= 1;
      });
      console.log(`a returning worker had its share back ${Date.now() - startedAt} ms after start`);
      await waitUntil("the worker to run its share", 10_000, async () => {
        const { body } = await http(back.url("/tasks"));
        return (body.tasks as unknown[]).length >= Math.floor(TASKS / 3);
      });
    });
    assert.deepEqual(scene.crashed, [], "no process died on its own");
  } catch (error) {
    dumpLogs(scene.processes as Array<(typeof scene.processes)[number] & { id: string }>);
    throw error;
  }
});

Deno.test("a task with workers: 2 runs on two worker processes; a dead one is replaced on the free one", async () => {
  await using pg = await startPostgres();
  await using scene = await ClusterScene.start({ masters: 1, workers: 3, frontierUrl: pg.url });
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
    await waitUntil("both placements to run it", 5000, async () => {
      return JSON.stringify(await runners()) === JSON.stringify(placed);
    });

    const victim = [...scene.workers.values()].find((w) => w.id === placed[1])!;
    const free = [...scene.workers.values()].find((w) => !placed.includes(w.id))!;
    const killedAt = Date.now();
    await scene.signal(victim, "SIGKILL");
    await waitUntil("a replacement on the free worker", (2 + 2) * 1000 + 2000, async () => {
      const now = await runners();
      return now.includes(free.id) && now.includes(placed[0]);
    });
    console.log(`replacement placement running ${Date.now() - killedAt} ms after kill -9`);
    assert.deepEqual(placedOn((await scene.resources())[0]).sort(), [placed[0], free.id].sort());
  } catch (error) {
    dumpLogs(scene.processes as Array<(typeof scene.processes)[number] & { id: string }>);
    throw error;
  } finally {
    await site.close();
  }
});
