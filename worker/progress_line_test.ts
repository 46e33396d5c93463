import assert from "node:assert/strict";
import { duration, ProgressMeter, recrawlProgress, TerminalLine } from "./progress_line.ts";
import type { TaskStats } from "../spider/task_run.ts";

const sample = (seconds: number, fetched: number, queued: number) => ({
  seconds,
  fetched,
  queued,
  inFlight: 0,
  failed: 1,
  items: fetched * 2,
});

Deno.test("the progress line shows an ETA while the queue shrinks, and none while it grows", () => {
  const meter = new ProgressMeter();
  assert.equal(
    meter.line(sample(1, 100, 500)),
    "1s  done 100  queued 500  failed 1  items 200  100.0 pages/s  ETA --",
  );
  // Growing frontier: no honest ETA.
  assert.match(meter.line(sample(2, 200, 900)), /100\.0 pages\/s {2}ETA --$/);
  // Over the window (1 s to 4 s) the queue went 500 → 200: 100 a second, so 2 s to go.
  assert.match(meter.line(sample(4, 1300, 200)), /queued 200 .* ETA 2s$/);
  assert.match(meter.line(sample(5, 1400, 0)), /finishing$/);
});

Deno.test("the rate covers the last ten seconds only", () => {
  const meter = new ProgressMeter();
  for (let s = 1; s <= 30; s++) meter.line(sample(s, s <= 15 ? s * 100 : 1500, 10));
  assert.match(meter.line(sample(31, 1500, 10)), / 0\.0 pages\/s/);
});

Deno.test("a terminal line overwrites itself and is cut to the width", () => {
  let out = "";
  const line = new TerminalLine((text) => (out += text), () => 31);
  line.draw("short");
  line.draw("x".repeat(50));
  line.clear();
  line.clear(); // nothing shown: nothing to clear
  assert.equal(out, `\r\x1b[2Kshort\r\x1b[2K${"x".repeat(30)}\r\x1b[2K`);
});

Deno.test("durations read as a person writes them", () => {
  assert.equal(duration(5.4), "5s");
  assert.equal(duration(125), "2:05");
  assert.equal(duration(3725), "1:02:05");
});

/** A run's stats: a recrawl task waiting for its next visit unless `overrides` say otherwise. */
function runStats(overrides: Partial<TaskStats> = {}): TaskStats {
  return {
    fetched: 2000,
    failed: 0,
    retried: 0,
    items: 4000,
    tooDeep: 0,
    duplicates: 0,
    disallowed: 0,
    sitemaps: 0,
    sitemapUrls: 0,
    throttled: 0,
    deferred: 0,
    exhausted: 0,
    queued: 0,
    inFlight: 0,
    frontier: { queued: 0, leased: 0, done: 0, failed: 0, scheduled: 1000, due: 0 },
    startedAt: 0,
    recrawl: { revisits: 1000, notModified: 990, unchanged: 5, changed: 5, nextDueAt: 192_000 },
    ...overrides,
  };
}

Deno.test("a recrawl crawl between passes shows waiting, the next visit and what revisits found", () => {
  const recrawl = recrawlProgress([runStats()], 0);
  assert.deepEqual(recrawl, {
    waiting: true,
    nextDueSeconds: 192,
    due: 0,
    scheduled: 1000,
    revisits: 1000,
    notModified: 990,
    unchanged: 5,
    changed: 5,
  });
  const meter = new ProgressMeter();
  assert.equal(
    meter.line({ ...sample(60, 2000, 0), recrawl }),
    "1:00  done 2,000  queued 0  failed 1  items 4,000  33.3 pages/s  waiting, next due in 3:12" +
      "  due 0 / scheduled 1,000  revisits 1,000 (304: 990, unchanged 5, changed 5)",
  );
});

Deno.test("a recrawl crawl with pages due is not waiting; runs add up, the earliest visit first", () => {
  const due = runStats({
    frontier: { queued: 0, leased: 2, done: 0, failed: 0, scheduled: 500, due: 40 },
    recrawl: { revisits: 10, notModified: 8, unchanged: 1, changed: 1, nextDueAt: 0 },
  });
  const recrawl = recrawlProgress([runStats(), due], 5_000)!;
  assert.equal(recrawl.waiting, false);
  assert.equal(recrawl.nextDueSeconds, 0, "the earliest visit is due already");
  assert.deepEqual(
    [recrawl.due, recrawl.scheduled, recrawl.revisits, recrawl.notModified],
    [40, 1500, 1010, 998],
  );
  const line = new ProgressMeter().line({ ...sample(1, 10, 0), inFlight: 2, recrawl });
  assert.match(
    line,
    /pages\/s {2}ETA -- {2}due 40 \/ scheduled 1,500 {2}revisits 1,010 \(304: 998,/,
  );
  // A task that does not recrawl and is still running keeps the crawl from waiting.
  const plain = runStats({ recrawl: undefined });
  assert.equal(recrawlProgress([runStats(), plain], 0)?.waiting, false);
  assert.equal(recrawlProgress([plain], 0), undefined, "no recrawl task: no recrawl figures");
  assert.equal(recrawlProgress([runStats(), { ...plain, finishedAt: 1 }], 0)?.waiting, true);
});
