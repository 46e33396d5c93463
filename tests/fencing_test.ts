/**
 * @module
 * Workers under faults, as real processes on a real etcd with a real master (issue 10): a
 * worker paused past its TTL, a worker restarted right after kill -9, and an etcd restart under
 * 3 workers and 120 tasks. Every request reaches the site through the proxy port of the worker
 * that made it, so a double run shows as two workers fetching for one task at the same time;
 * every worker's `/tasks` is also sampled every 15 ms. Each test prints its figures.
 */
import assert from "node:assert/strict";
import { doubleRuns, type SiteRequest } from "./attributing_site.ts";
import { FaultCluster } from "./fault_cluster.ts";
import { waitUntil } from "./cluster_harness.ts";

const TTL_SECONDS = 2;

function longest(values: number[]): number {
  return values.length === 0 ? 0 : Math.max(...values);
}

/** Asserts no double run in the site log or the samples; returns the longest seen (0). */
function assertNoDoubleRun(cluster: FaultCluster, label: string): number {
  const fromSite = doubleRuns(cluster.site.requests);
  const fromSamples = cluster.sampledDoubleRuns();
  const longestMs = Math.max(
    longest(fromSite.map((d) => d.ms)),
    longest(fromSamples.map((d) => d.atLeastMs)),
  );
  console.log(
    `${label}: longest double run ${longestMs} ms (site log: ${fromSite.length} overlaps, ` +
      `/tasks samples: ${cluster.samples.length}, ${fromSamples.length} proven double)`,
  );
  const errors = cluster.errorLines();
  console.log(
    `${label}: ERROR log lines: workers ${errors.length}, master ${
      cluster.errorLines("master").length
    }`,
  );
  assert.deepEqual(fromSite, [], "two workers fetched for one task at the same time");
  assert.deepEqual(fromSamples, [], "two workers ran one task at the same time");
  // A fault the workers ride out is not something an operator must act on.
  assert.deepEqual(errors, [], "workers logged ERROR for a fault they handled");
  return longestMs;
}

function requestsBy(requests: SiteRequest[], worker: string, from: number, to = Infinity) {
  return requests.filter((r) => r.worker === worker && r.at >= from && r.at < to);
}

Deno.test("a worker paused past its TTL runs nothing once it resumes: no double run, no request after a delete", async () => {
  // Fast pages and many fetch slots: the paused worker has answers waiting when it resumes.
  const cluster = await FaultCluster.start({
    workers: 3,
    ttlSeconds: TTL_SECONDS,
    latencyMs: 5,
    concurrency: 8,
  });
  let failed = true;
  try {
    const names = Array.from({ length: 12 }, (_, i) => `paused${i}`);
    for (const name of names) await cluster.add(name);
    await cluster.waitRunningAsAssigned(names, 10_000);
    cluster.startSampling();

    const before = await cluster.assignments();
    const victim = cluster.workers.find((w) => [...before.values()].includes(w.id))!;
    const victimTasks = names.filter((name) => before.get(name) === victim.id);
    // Freeze it while every fetch slot of it waits for an answer: then no request of its is
    // half-sent (a fetch begun a moment before a freeze leaves when the process is thawed, which
    // no lease can prevent). The answers reach it while it is stopped, so it wakes up to pages
    // to parse and links to follow: what it must not do any more.
    cluster.site.hold(victim.id);
    let count = -1;
    let since = Date.now();
    await waitUntil("every fetch of the victim to wait at the site", 5000, () => {
      const now = cluster.site.outstanding(victim.id);
      if (now !== count) [count, since] = [now, Date.now()];
      return count > 0 && Date.now() - since >= 200;
    });
    const stoppedAt = Date.now();
    victim.child.kill("SIGSTOP");
    cluster.site.release(victim.id);

    // The master moves the paused worker's tasks once its lease is gone.
    await waitUntil("the paused worker's tasks to move", TTL_SECONDS * 1000 + 8000, async () => {
      const now = await cluster.assignments();
      return victimTasks.every((name) => now.get(name) !== victim.id);
    });
    const movedAt = Date.now();
    await waitUntil(
      "the moved tasks to be crawled by their new workers",
      5000,
      () =>
        victimTasks.every((name) =>
          cluster.site.requests.some((r) =>
            r.task === name && r.worker !== victim.id && r.at > stoppedAt
          )
        ),
    );
    const deleted = victimTasks[0];
    const deleteAckedAt = await cluster.delete(deleted);
    const continuedAt = Date.now();
    victim.child.kill("SIGCONT");
    console.log(
      `paused ${victim.id} (${victimTasks.length} tasks) for ${continuedAt - stoppedAt} ms; ` +
        `tasks moved ${movedAt - stoppedAt} ms after SIGSTOP`,
    );

    // It comes back: registers again and is ready to take work.
    await waitUntil(
      "the resumed worker to register again",
      10_000,
      () => cluster.logTimes(victim, "worker registered").some((t) => t >= continuedAt),
    );
    const registeredAt = cluster.logTimes(victim, "worker registered").find((t) =>
      t >= continuedAt
    )!;
    await cluster.waitReady();
    const rest = names.filter((name) => name !== deleted);
    await cluster.waitRunningAsAssigned(rest, 10_000);
    // Watch the aftermath for a while: any late request of the resumed worker would land now.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await cluster.stopSampling();

    const requests = cluster.site.requests;
    const late = requestsBy(requests, victim.id, stoppedAt).map((r) =>
      `${r.path} +${r.at - continuedAt} ms`
    );
    console.log(`requests of the paused worker after SIGSTOP, from SIGCONT: ${late.join(", ")}`);
    console.log(
      `fence logged +${
        cluster.logTimes(
          victim,
          "registration lease may have expired; tasks stopped until it is renewed",
        )
          .map((t) => t - continuedAt).join(", ")
      } ms from SIGCONT`,
    );
    const longestMs = assertNoDoubleRun(cluster, "SIGSTOP past TTL");
    const afterDelete = requests.filter((r) => r.task === deleted && r.at > deleteAckedAt);
    assert.deepEqual(afterDelete, [], "a request after the delete was acknowledged");
    const beforeRegistering = requestsBy(requests, victim.id, continuedAt, registeredAt);
    assert.deepEqual(beforeRegistering, [], "requests after SIGCONT before registering again");
    const after = await cluster.assignments();
    const moved = rest.filter((name) => after.get(name) !== before.get(name)).length;
    console.log(
      `SIGSTOP past TTL: ${victimTasks.length} of ${names.length} tasks moved off the paused ` +
        `worker; ${moved} of ${rest.length} now elsewhere than before; ` +
        `longest double run ${longestMs} ms; resumed worker re-registered ` +
        `${registeredAt - continuedAt} ms after SIGCONT`,
    );
    failed = false;
  } finally {
    await cluster.close(failed);
  }
});

Deno.test("a worker restarted right after kill -9 starts nothing before it registers, and nothing runs twice", async () => {
  const cluster = await FaultCluster.start({ workers: 3, ttlSeconds: TTL_SECONDS });
  let failed = true;
  try {
    const names = Array.from({ length: 15 }, (_, i) => `restarted${i}`);
    for (const name of names) await cluster.add(name);
    await cluster.waitRunningAsAssigned(names, 10_000);
    cluster.startSampling();

    // At once; registering about when the old lease runs out (a spawn takes ~400 ms), while
    // the master may be moving its tasks away; and once they were moved.
    const ttlMs = TTL_SECONDS * 1000;
    for (const [n, delayMs] of [[1, 300], [2, ttlMs - 400], [3, ttlMs]] as const) {
      const before = await cluster.assignments();
      const old = cluster.workers.find((w) => w.n === n)!;
      const killedAt = Date.now();
      await old.stop("SIGKILL");
      await new Promise((resolve) => setTimeout(resolve, delayMs - (Date.now() - killedAt)));
      const startedAt = Date.now();
      const restarted = await cluster.startWorker(n);
      await cluster.waitReady();
      await cluster.waitRunningAsAssigned(names, 15_000);
      const registeredAt = cluster.logTimes(restarted, "worker registered")[0];
      const early = requestsBy(cluster.site.requests, restarted.id, startedAt, registeredAt);
      assert.deepEqual(early, [], "requests before the restarted worker registered");
      const after = await cluster.assignments();
      const moved = names.filter((name) => after.get(name) !== before.get(name)).length;
      const startedTasks = cluster.logTimes(restarted, "task started");
      console.log(
        `kill -9 + restart after ${delayMs} ms: ${moved} of ${names.length} tasks moved; ` +
          `restarted worker registered ${registeredAt - startedAt} ms after spawn, first task ` +
          `${startedTasks.length ? `${startedTasks[0] - registeredAt} ms after that` : "none"}`,
      );
      assert.ok(startedTasks.every((t) => t >= registeredAt), "a task started before registering");
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    await cluster.stopSampling();
    assertNoDoubleRun(cluster, "kill -9 + restart");
    failed = false;
  } finally {
    await cluster.close(failed);
  }
});

Deno.test("an etcd kill and restart under 3 workers and 120 tasks moves fewer than 5 % of them", async () => {
  const cluster = await FaultCluster.start({
    workers: 3,
    ttlSeconds: TTL_SECONDS,
    latencyMs: 100,
    concurrency: 4,
  });
  let failed = true;
  try {
    const names = Array.from({ length: 120 }, (_, i) => `bulk${i}`);
    for (const name of names) await cluster.add(name);
    await cluster.waitRunningAsAssigned(names, 30_000);
    cluster.startSampling();
    const before = await cluster.assignments();

    const killedAt = Date.now();
    // Away longer than the TTL: every worker gives its lease up and registers on a new one.
    await cluster.etcd.stop();
    await new Promise((resolve) => setTimeout(resolve, TTL_SECONDS * 1000));
    await cluster.etcd.restart();
    const backAt = Date.now();
    await cluster.waitReady(20_000);
    await cluster.waitRunningAsAssigned(names, 30_000);
    const settledAt = Date.now();
    // Watch a while after everything settled: no late move, no double run.
    await new Promise((resolve) => setTimeout(resolve, TTL_SECONDS * 1000));
    await cluster.stopSampling();

    const after = await cluster.assignments();
    const moved = names.filter((name) => after.get(name) !== before.get(name));
    const loads = new Map<string, number>();
    for (const worker of after.values()) loads.set(worker, (loads.get(worker) ?? 0) + 1);
    const longestMs = assertNoDoubleRun(cluster, "etcd kill + restart");
    // Fenced tasks start again on the same worker (afresh, until the shared frontier).
    const restarts = cluster.workers.flatMap((w) => cluster.logTimes(w, "task started"))
      .filter((t) => t > killedAt).length;
    console.log(
      `etcd kill + restart: etcd away ${backAt - killedAt} ms; all ${names.length} tasks running ` +
        `where assigned ${settledAt - backAt} ms after it was back; ${moved.length} moved ` +
        `(${(100 * moved.length / names.length).toFixed(1)} %); ${restarts} task starts ` +
        `after the kill; loads ${JSON.stringify(Object.fromEntries(loads))}; ` +
        `longest double run ${longestMs} ms`,
    );
    assert.ok(
      moved.length < names.length * 0.05,
      `${moved.length} of ${names.length} tasks moved: ${moved.join(", ")}`,
    );
    failed = false;
  } finally {
    await cluster.close(failed);
  }
});
