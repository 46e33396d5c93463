import assert from "node:assert/strict";
import { Crawler } from "../spider/crawler.ts";
import { HttpFetcher } from "../spider/fetcher.ts";
import { MultiLimiter } from "../spider/rate_limiter.ts";
import { silentLogger } from "../log/logger.ts";
import { builtinRuleSets } from "../rulesets/mod.ts";
import { buildTask } from "../spider/task_definition.ts";
import { startDoubanFixture } from "../tests/douban_fixture.ts";
import { runOutcome } from "./run_outcome.ts";

async function crawl(url: string) {
  const fetcher = new HttpFetcher({ timeoutMs: 1000 });
  const crawler = new Crawler({
    fetcher,
    sink: { save() {}, flush: () => Promise.resolve() },
    logger: silentLogger,
    retries: 0,
    createLimiter: (limits) => MultiLimiter.fromSpecs(limits),
    randomWait: () => Promise.resolve(),
  });
  const task = buildTask(
    { name: "t", rule: "douban_book_list", url, waitTime: 0, limits: [], maxDepth: 1 },
    builtinRuleSets(),
  );
  const run = crawler.start(task);
  await run.done;
  await crawler.close();
  fetcher.close();
  return runOutcome(run);
}

Deno.test("a task whose root request fails is reported failed, with the reason", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close(); // nothing listens there: the root fetch is refused
  const outcome = await crawl(`http://127.0.0.1:${port}/`);
  assert.equal(outcome.state, "failed");
  assert.match(outcome.error ?? "", /root request failed/);
});

Deno.test("a task that fetched its pages is reported finished", async () => {
  const site = startDoubanFixture({ tags: 1, booksPerTag: 1, failOnceEvery: 0 });
  try {
    assert.deepEqual(await crawl(`${site.url}/`), { state: "finished" });
  } finally {
    await site.close();
  }
});
