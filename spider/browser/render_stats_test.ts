import assert from "node:assert/strict";
import { emptyRenderStats, RENDER_SECONDS_BUCKETS, RenderTally } from "./render_stats.ts";

Deno.test("a render tally counts renders by outcome and time, pages open and restarts", () => {
  const tally = new RenderTally();
  tally.opened(false);
  tally.opened(true);
  tally.opened(false);
  assert.equal(tally.stats.open, 3);
  tally.ended("ok", 0.3);
  tally.ended("timeout", 15);
  assert.equal(tally.stats.open, 1);
  tally.ended("aborted", 2); // the task stopped: neither rendered nor failed, no time
  tally.opened(false);
  tally.ended("ok", 75);
  const seconds = emptyRenderStats().seconds;
  seconds[RENDER_SECONDS_BUCKETS.indexOf(0.5)] = 1;
  seconds[RENDER_SECONDS_BUCKETS.indexOf(15)] = 1;
  seconds[RENDER_SECONDS_BUCKETS.length] = 1; // slower than the last bound
  assert.deepEqual(tally.stats, { rendered: 2, failed: 1, seconds, open: 0, restarts: 1 });
});
