import assert from "node:assert/strict";
import { randomUserAgent } from "./user_agent.ts";

/** mulberry32: a small seeded generator, uniform in [0, 1). */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const browserPatterns = {
  firefox: /^Mozilla\/5\.0 \([^)]+; rv:(\d+\.0)\) Gecko\/20100101 Firefox\/\1$/,
  edge:
    /^Mozilla\/5\.0 \([^)]+\) AppleWebKit\/537\.36 \(KHTML, like Gecko\) Chrome\/[\d.]+ Safari\/537\.36 Edg\/[\d.]+$/,
  chrome:
    /^Mozilla\/5\.0 \([^)]+\) AppleWebKit\/537\.36 \(KHTML, like Gecko\) Chrome\/[\d.]+ Safari\/537\.36$/,
  opera: /^Opera\/9\.80 \([^)]+; U; en\) Presto\/[\d.]+ Version\/[\d.]+$/,
};

function browserOf(ua: string): string | undefined {
  return Object.entries(browserPatterns).find(([, pattern]) => pattern.test(ua))?.[0];
}

Deno.test("random user agent is reproducible with a seeded random", () => {
  const first = seeded(42);
  const second = seeded(42);
  const a = Array.from({ length: 20 }, () => randomUserAgent(first));
  const b = Array.from({ length: 20 }, () => randomUserAgent(second));
  assert.deepEqual(a, b);
  assert.ok(new Set(a).size > 10, "a seeded sequence still varies");
});

Deno.test("random user agent picks from fixed positions of the version lists", () => {
  // Each call draws browser, version, then OS; 0 picks the first entry of each list.
  assert.equal(
    randomUserAgent(() => 0),
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_13; rv:72.0) Gecko/20100101 Firefox/72.0",
  );
  assert.equal(
    randomUserAgent(() => 0.9999),
    "Opera/9.80 (X11; Linux x86_64; U; en) Presto/2.5.24 Version/10.54",
  );
});

Deno.test("random user agent always looks like one of four desktop browsers", () => {
  const random = seeded(7);
  const seen = new Set<string>();
  for (let i = 0; i < 500; i++) {
    const ua = randomUserAgent(random);
    const browser = browserOf(ua);
    assert.ok(browser, `not a browser user agent: ${ua}`);
    seen.add(browser);
  }
  assert.deepEqual([...seen].sort(), ["chrome", "edge", "firefox", "opera"]);
});

Deno.test("random user agent works with the default random", () => {
  assert.ok(browserOf(randomUserAgent()));
});
