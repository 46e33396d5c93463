import assert from "node:assert/strict";
import { TaskRun } from "./task_run.ts";
import type { Task } from "./task.ts";
import type { CrawlRequest } from "./request.ts";
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

Deno.test("links become known only once their acknowledgement counted", async () => {
  const run = new TaskRun(task(), { wait: () => Promise.resolve() }, {
    frontier: new MemoryFrontier(),
    logger: silentLogger,
    owner: "test",
  });
  try {
    await run.opened;
    // The root is in the frontier once the crawl is open.
    assert.deepEqual(urls(run.children([link("/"), link("/a")])), ["/a"]);
    // A page's repeated links are sent once.
    assert.deepEqual(urls(run.children([link("/a"), link("/b"), link("/a")])), ["/a", "/b"]);
    // Their acknowledgement failed (or did not count): nothing was remembered, so the next page
    // linking to them sends them again instead of dropping them as known.
    assert.deepEqual(urls(run.children([link("/a"), link("/b")])), ["/a", "/b"]);
    // Committed and counted: now they are known.
    run.remember([link("/a")]);
    assert.deepEqual(urls(run.children([link("/a"), link("/b")])), ["/b"]);
    assert.equal(run.stats.duplicates, 3);
  } finally {
    run.stop();
  }
});

Deno.test("a task that reloads remembers nothing: every link is sent", async () => {
  const run = new TaskRun(task(true), { wait: () => Promise.resolve() }, {
    frontier: new MemoryFrontier(),
    logger: silentLogger,
    owner: "test",
  });
  try {
    await run.opened;
    run.remember([link("/a")]);
    assert.deepEqual(urls(run.children([link("/"), link("/a"), link("/a")])), ["/", "/a", "/a"]);
  } finally {
    run.stop();
  }
});
