/**
 * @module
 * A claimer process for the frontier contract suite: claims small batches of a task from the
 * frontier at URL, acknowledges each batch, and prints every URL it claimed (JSON) when the
 * task has nothing left. It first prints `ready` once the frontier is open and waits for a line on
 * stdin, so the test can start every claimer at the same instant (a process that starts late
 * could otherwise find the work all done and prove nothing).
 *
 *   deno run --allow-all tests/_frontier_claimer.ts FRONTIER_URL TASK OWNER
 */
import { openFrontier } from "../frontier/open_frontier.ts";
import { waitFor } from "./kit/wait.ts";
import { delay } from "../async/delay.ts";

const [url, task, owner] = Deno.args;
const frontier = await openFrontier(url);
const claimed: string[] = [];
await Deno.stdout.write(new TextEncoder().encode("ready\n"));
await waitForGo();
try {
  for (;;) {
    const claims = await waitFor(async () => {
      const claims = await frontier.claim(task, { owner, limit: 7, leaseMs: 60_000 });
      return claims.length > 0 ? claims : await frontier.finished(task) && "finished";
    }, { what: "work to claim or the crawl finished", timeoutMs: 60_000, intervalMs: 5 });
    if (claims === "finished") break;
    for (const claim of claims) claimed.push(claim.request.url);
    // A millisecond stands for the fetches a worker makes between a claim and its ack: without
    // it one process holds SQLite's write lock almost all the time, and the other's busy handler
    // (no queue, growing sleeps) may not get a turn before the work is gone.
    await delay(1);
    await frontier.complete(claims.map((claim) => ({ kind: "done", claim, children: [] })));
  }
} finally {
  await frontier.close();
}
console.log(JSON.stringify(claimed));

async function waitForGo(): Promise<void> {
  const buffer = new Uint8Array(16);
  for (;;) {
    const n = await Deno.stdin.read(buffer);
    if (n === null || buffer.subarray(0, n).includes(10)) return;
  }
}
