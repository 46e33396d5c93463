import assert from "node:assert/strict";
import { duration, ProgressMeter, TerminalLine } from "./progress_line.ts";

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
