/**
 * Kills a leading master's process (SIGKILL: no resign, no revoke) and measures how long the
 * other candidate takes to be elected and be seen as leader by an observer, against a real
 * etcd. The only thing that hands leadership over is the lease running out, so the time is
 * bounded by the TTL (plus etcd's lease-expiry check, every 500 ms).
 */

import assert from "node:assert/strict";
import { EtcdStore } from "../store/etcd_store.ts";
import { holdsFor, startEtcd, waitFor } from "./kit/mod.ts";

/** The election TTL; `FAILOVER_TTL_SECONDS=10 deno test ...` measures another. */
const TTL_SECONDS = Number(Deno.env.get("FAILOVER_TTL_SECONDS") ?? 2);

/** Resolves once `stream` has printed `line`; leaving the loop cancels the rest of it. */
async function waitForLine(stream: ReadableStream<Uint8Array>, line: string): Promise<void> {
  const decoder = new TextDecoder();
  let seen = "";
  for await (const chunk of stream) {
    seen += decoder.decode(chunk, { stream: true });
    if (seen.split("\n").includes(line)) return;
  }
  throw new Error(`process ended without printing ${JSON.stringify(line)}: ${seen}`);
}

Deno.test("killing the leader's process elects the other candidate within its lease TTL", async () => {
  await using etcd = await startEtcd();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      new URL("./_campaign_process.ts", import.meta.url).pathname,
      `--endpoint=${etcd.endpoint}`,
      "--value=master1",
      `--ttl=${TTL_SECONDS}`,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const store = new EtcdStore({ endpoints: [etcd.endpoint], logger: { warn() {}, error() {} } });
  const observing = new AbortController();
  try {
    await waitFor(waitForLine(child.stdout, "elected"), {
      what: "the child to be elected",
      timeoutMs: 20_000,
    });

    const election = store.election("/crawler/election", TTL_SECONDS);
    const second = election.campaign("master2");
    const seen: Array<{ leader: string | undefined; at: number }> = [];
    const observed = (async () => {
      for await (const leader of election.observe({ signal: observing.signal })) {
        seen.push({ leader, at: performance.now() });
        if (leader === "master2") return;
      }
    })();
    // The first observation is the current leader (however long a loaded machine takes to
    // deliver it), and nothing else comes while it lives.
    await waitFor(() => seen.length > 0, { what: "the first observation", timeoutMs: 10_000 });
    // Nothing else comes for a while: 300 ms is many watch events.
    await holdsFor(() => seen.length === 1, { what: "one observation", forMs: 300 });
    assert.deepEqual(seen.map((entry) => entry.leader), ["master1"]);

    const killedAt = performance.now();
    child.kill("SIGKILL");
    await child.status;
    await waitFor(second.elected, {
      what: "the second candidate to be elected",
      timeoutMs: TTL_SECONDS * 1000 + 3000,
    });
    const electedAt = performance.now();
    await waitFor(observed, { what: "the observer to see the new leader", timeoutMs: 3000 });
    const observedAt = seen.at(-1)!.at;

    const elected = electedAt - killedAt;
    const observedAfter = observedAt - killedAt;
    console.log(
      `leader change after SIGKILL with TTL ${TTL_SECONDS} s: elected after ${
        elected.toFixed(0)
      } ms, observed after ${observedAfter.toFixed(0)} ms`,
    );
    assert.deepEqual(seen.map((entry) => entry.leader), ["master1", "master2"]);
    // The old lease lives at most TTL after its last keep-alive; etcd checks expiry every 500 ms.
    assert.ok(observedAfter <= TTL_SECONDS * 1000 + 1500, `took ${observedAfter} ms`);

    const resignedAt = performance.now();
    const third = store.election("/crawler/election", TTL_SECONDS).campaign("master3");
    await second.resign();
    await waitFor(third.elected, { what: "the third candidate to be elected", timeoutMs: 3000 });
    console.log(`leader change on resign: ${(performance.now() - resignedAt).toFixed(0)} ms`);
    await third.resign();
  } finally {
    observing.abort();
    try {
      child.kill("SIGKILL");
    } catch {
      // Already killed by the test.
    }
    await child.status;
    await store.close();
  }
});
