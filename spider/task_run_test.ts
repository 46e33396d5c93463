import assert from "node:assert/strict";
import { TaskRun } from "./task_run.ts";
import type { Task } from "./task.ts";
import type { CrawlRequest } from "../frontier/crawl_request.ts";
import { silentLogger } from "../log/logger.ts";
import { MemoryFrontier } from "../frontier/memory_frontier.ts";

const ROOT = "http://site.test/";

function task(reload = false): Task {
  return {
    ruleSet: {
      name: "links",
      defaults: { url: ROOT },
      root: ({ url }) => [{ url, ruleName: "page" }],
      rules: { page: { parse: () => ({}) } },
    },
    options: {
      name: "known",
      url: ROOT,
      waitTime: 0,
      reload,
      maxDepth: 5,
      limits: [],
    },
  };
}

function link(path: string): CrawlRequest {
  return {
    url: new URL(path, ROOT).href,
    method: "GET",
    depth: 1,
    priority: 0,
    ruleName: "page",
    attempt: 0,
  };
}

const urls = (requests: readonly CrawlRequest[]) => requests.map((r) => new URL(r.url).pathname);

function start(reload = false) {
  return TaskRun.start(task(reload), { wait: () => Promise.resolve() }, {
    frontier: new MemoryFrontier(),
    logger: silentLogger,
    owner: "test",
  });
}

Deno.test("links become known only once their acknowledgement counted", async () => {
  const { run, feed } = start();
  try {
    await run.opened;
    // The root is in the frontier once the crawl is open.
    assert.deepEqual(urls(feed.children([link("/"), link("/a")])), ["/a"]);
    // A page's repeated links are sent once.
    assert.deepEqual(urls(feed.children([link("/a"), link("/b"), link("/a")])), ["/a", "/b"]);
    // Their acknowledgement failed (or did not count): nothing was remembered, so the next page
    // linking to them sends them again instead of dropping them as known.
    assert.deepEqual(urls(feed.children([link("/a"), link("/b")])), ["/a", "/b"]);
    // Committed and counted: now they are known.
    const turn = await feed.next();
    assert.ok(turn);
    turn.handOver().settle([link("/a")]);
    assert.deepEqual(urls(feed.children([link("/a"), link("/b")])), ["/b"]);
    assert.equal(run.stats.duplicates, 3);
  } finally {
    run.stop();
  }
});

Deno.test("a task that reloads remembers nothing: every link is sent", async () => {
  const { run, feed } = start(true);
  try {
    await run.opened;
    const turn = await feed.next();
    assert.ok(turn);
    turn.handOver().settle([link("/a")]);
    assert.deepEqual(urls(feed.children([link("/"), link("/a"), link("/a")])), ["/", "/a", "/a"]);
  } finally {
    run.stop();
  }
});

Deno.test("a claim's steps out of order throw, naming the step", async () => {
  const { run, feed } = start();
  try {
    const turn = await feed.next();
    assert.ok(turn);
    assert.equal(run.stats.inFlight, 1);
    assert.equal(turn.takeRetry(), false);
    const handed = turn.handOver();
    assert.equal(run.stats.inFlight, 0);
    assert.throws(() => turn.handOver(), /handOver: the claim is handed over, not fetching/);
    assert.throws(() => turn.takeRetry(), /takeRetry: the claim is handed over/);
    handed.settle();
    assert.throws(() => handed.settle(), /settle: the claim is settled, not handed over/);
  } finally {
    run.stop();
  }
});

Deno.test("a page whose parse was lost is taken for a retry once", async () => {
  const { run, feed } = start();
  try {
    const turn = await feed.next();
    assert.ok(turn);
    run.retry(turn.claim.request);
    assert.equal(turn.takeRetry(), true);
    assert.equal(turn.takeRetry(), false);
  } finally {
    run.stop();
  }
});
