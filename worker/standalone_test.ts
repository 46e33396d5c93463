import assert from "node:assert/strict";
import { parseConfig } from "../config/load_config.ts";
import { createLogger } from "../log/logger.ts";
import { builtinRuleSets } from "../rulesets/mod.ts";
import { startDoubanFixture } from "../tests/douban_fixture.ts";
import { configText } from "../tests/kit/config.ts";
import { runStandalone } from "./standalone.ts";

async function crawl(options: { retries: number; progress: "line" | "plain" }) {
  // Books 3 and 10 answer 500 once, then 200.
  const site = startDoubanFixture({ tags: 2, booksPerTag: 7, failOnceEvery: 7, latencyMs: 5 });
  const dir = await Deno.makeTempDir();
  const logs: string[] = [];
  const printed: string[] = [];
  let drawn = "";
  try {
    const config = parseConfig(configText({
      logLevel: "debug",
      Tasks: [{
        Name: "books",
        Rule: "douban_book_list",
        URL: `${site.url}/`,
        WaitTime: 0,
        Limits: [],
      }],
      fetcher: { retries: options.retries, concurrency: 2 },
      storage: { sqlURL: `sqlite:${dir}/items.db` },
      frontier: { url: `sqlite:${dir}/frontier.db` },
    }));
    const summary = await runStandalone({
      config,
      ruleSets: builtinRuleSets(),
      logger: createLogger({ level: "debug", write: (line) => logs.push(line) }),
      print: (line) => printed.push(line),
      write: (text) => (drawn += text),
      progress: options.progress,
      progressIntervalMs: 20,
    });
    return { summary, logs, printed, drawn };
  } finally {
    await site.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a retry that succeeds is logged at DEBUG, not WARN", async () => {
  const { summary, logs, printed } = await crawl({ retries: 1, progress: "plain" });
  assert.equal(summary.failed, 0);
  const retries = logs.filter((l) => l.includes('"msg":"fetch failed, retrying"'));
  assert.equal(retries.length, 2);
  for (const line of retries) assert.match(line, /"level":"DEBUG"/);
  assert.ok(!logs.some((l) => /"level":"(WARN|ERROR)"/.test(l)), logs.join("\n"));
  assert.deepEqual(summary.failures, []);
  assert.ok(!printed.some((l) => l.startsWith("failures:")));
});

Deno.test("final failures are WARN lines and summed up by reason at the end", async () => {
  const { summary, logs, printed } = await crawl({ retries: 0, progress: "plain" });
  assert.equal(summary.failed, 2);
  const warned = logs.filter((l) => l.includes('"msg":"fetch failed"'));
  assert.equal(warned.length, 2);
  for (const line of warned) assert.match(line, /"level":"WARN"/);
  assert.deepEqual(summary.failures, [["HTTP 500", 2]]);
  assert.equal(printed.at(-1), "failures: 2 (HTTP 500: 2)");
});

Deno.test("on a terminal the progress line is redrawn in place, and the summary printed after", async () => {
  const { drawn, printed } = await crawl({ retries: 1, progress: "line" });
  const frames = drawn.split("\r\x1b[2K").filter(Boolean);
  assert.ok(frames.length >= 1, JSON.stringify(drawn));
  for (const frame of frames) {
    assert.match(
      frame,
      /^\d+s {2}done [\d,]+ {2}queued [\d,]+ {2}failed \d+ {2}items [\d,]+ {2}[\d.]+ pages\/s {2}(ETA \S+|finishing)$/,
    );
  }
  assert.ok(!frames.some((f) => f.includes("\n")), "a frame never moves to a new line");
  assert.ok(drawn.endsWith("\r\x1b[2K"), "the line is cleared before the summary");
  assert.ok(!printed.some((l) => l.startsWith("progress:")), "no plain progress lines");
  assert.match(printed.at(-1)!, /^summary: done/);
});
