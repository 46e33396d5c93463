import assert from "node:assert/strict";
import {
  DEFAULT_RECRAWL,
  formatDuration,
  nextInterval,
  outputHash,
  parseDuration,
  recrawlPolicy,
} from "./recrawl.ts";
import type { Item } from "./item.ts";
import { toRequest } from "../frontier/crawl_request.ts";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

Deno.test("durations are read from 90s, 15m, 24h, 14d, 250ms or a number of ms", () => {
  assert.equal(parseDuration("90s"), 90_000);
  assert.equal(parseDuration("15m"), 15 * MINUTE);
  assert.equal(parseDuration("24h"), DAY);
  assert.equal(parseDuration("14d"), 14 * DAY);
  assert.equal(parseDuration("250ms"), 250);
  assert.equal(parseDuration("1.5h"), 90 * MINUTE);
  assert.equal(parseDuration("5000"), 5000, "a bare number in a string is ms");
  assert.equal(parseDuration(2500), 2500);
  assert.equal(formatDuration(14 * DAY), "14d");
  assert.equal(formatDuration(90_000), "90s");
  assert.equal(formatDuration(250), "250ms");
});

Deno.test("a duration that is not one is rejected naming the value", () => {
  for (const bad of ["1 day", "24x", "", "-5s", "0s", "h"]) {
    assert.throws(() => parseDuration(bad), /is not a duration: write it as "90s"/, bad);
  }
  assert.throws(() => parseDuration(0), /positive number of ms, not 0/);
  assert.throws(() => parseDuration(-1), /positive number of ms/);
  assert.throws(() => parseDuration(Infinity), /positive number of ms/);
});

Deno.test("a policy takes the written parts over its base; the defaults are 24h, 1h..14d, adaptive", () => {
  assert.deepEqual(recrawlPolicy({}), { ...DEFAULT_RECRAWL });
  assert.deepEqual(recrawlPolicy({}), {
    intervalMs: DAY,
    minMs: HOUR,
    maxMs: 14 * DAY,
    adaptive: true,
  });
  assert.deepEqual(
    recrawlPolicy({ interval: "2h", adaptive: false }, recrawlPolicy({ min: "30m" })),
    { intervalMs: 2 * HOUR, minMs: 30 * MINUTE, maxMs: 14 * DAY, adaptive: false },
  );
});

Deno.test("an interval alone lowers Min or raises Max to itself", () => {
  assert.deepEqual(recrawlPolicy({ interval: "2s" }), {
    intervalMs: 2000,
    minMs: 2000,
    maxMs: 14 * DAY,
    adaptive: true,
  });
  assert.equal(recrawlPolicy({ interval: "30d" }).maxMs, 30 * DAY);
});

Deno.test("a policy whose min is above max, or whose interval is outside them, is rejected", () => {
  assert.throws(
    () => recrawlPolicy({ min: "2d", max: "1d" }),
    /recrawl min \(2d\) is above max \(1d\)/,
  );
  assert.throws(
    () => recrawlPolicy({ interval: "1h", min: "2h" }),
    /recrawl interval \(1h\) is outside min..max \(2h..14d\)/,
  );
  assert.throws(
    () => recrawlPolicy({ interval: "2d", max: "1d" }),
    /recrawl interval \(2d\) is outside min..max/,
  );
  assert.throws(() => recrawlPolicy({ interval: "soon" }), /"soon" is not a duration/);
});

Deno.test("an adaptive interval grows ×1.5 up to max while the page stays the same", () => {
  const policy = recrawlPolicy({ interval: "1h", min: "30m", max: "4h" });
  let interval = nextInterval(policy, "new", undefined);
  assert.equal(interval, HOUR);
  const steps: number[] = [];
  for (let i = 0; i < 5; i++) {
    interval = nextInterval(policy, i % 2 ? "not-modified" : "unchanged", interval);
    steps.push(interval);
  }
  assert.deepEqual(steps, [1.5 * HOUR, 2.25 * HOUR, 3.375 * HOUR, 4 * HOUR, 4 * HOUR]);
});

Deno.test("an adaptive interval halves down to min when the page changes", () => {
  const policy = recrawlPolicy({ interval: "1h", min: "30m", max: "4h" });
  const steps: number[] = [];
  let interval = 4 * HOUR;
  for (let i = 0; i < 4; i++) steps.push(interval = nextInterval(policy, "changed", interval));
  assert.deepEqual(steps, [2 * HOUR, HOUR, 30 * MINUTE, 30 * MINUTE]);
});

Deno.test("a policy that does not adapt keeps its interval whatever a visit finds", () => {
  const policy = recrawlPolicy({ interval: "1h", adaptive: false });
  for (const result of ["new", "not-modified", "unchanged", "changed"] as const) {
    assert.equal(nextInterval(policy, result, 3 * HOUR), HOUR, result);
  }
  assert.equal(nextInterval(policy, "changed", undefined), HOUR);
});

function item(data: Record<string, unknown>, key = "http://a.test/#0", time = 1): Item {
  return { task: "t", rule: "page", url: "http://a.test/", time, key, data };
}

const LINKS = [
  toRequest({ url: "http://a.test/2", ruleName: "page" }),
  toRequest({ url: "http://a.test/3", ruleName: "detail" }),
];

Deno.test("one output hashes alike whatever the order of its objects' keys, and its time", () => {
  const a = outputHash(
    [item({ title: "x", meta: { price: 1, tags: ["a", "b"] } }, undefined, 1)],
    LINKS,
  );
  const b = outputHash(
    [item({ meta: { tags: ["a", "b"], price: 1 }, title: "x" }, undefined, 99)],
    LINKS,
  );
  assert.equal(a, b);
  assert.match(a, /^[0-9a-f]+$/);
});

Deno.test("a changed item, item key, or link changes the output's hash", () => {
  const base = outputHash([item({ title: "x", price: 1 })], LINKS);
  assert.notEqual(outputHash([item({ title: "x", price: 2 })], LINKS), base);
  assert.notEqual(outputHash([item({ title: "x", price: 1 }, "k=1")], LINKS), base);
  assert.notEqual(outputHash([], LINKS), base);
  assert.notEqual(outputHash([item({ title: "x", price: 1 })], LINKS.slice(0, 1)), base);
  assert.notEqual(
    outputHash([item({ title: "x", price: 1 })], [
      LINKS[0],
      toRequest({ url: "http://a.test/4", ruleName: "detail" }),
    ]),
    base,
  );
  assert.notEqual(
    outputHash([item({ title: "x", price: 1 })], [
      LINKS[0],
      toRequest({ url: "http://a.test/3", ruleName: "page" }),
    ]),
    base,
    "the same URL for another rule is another link",
  );
  assert.notEqual(outputHash([item({ title: "x", price: 1 })], [...LINKS].reverse()), base);
});
