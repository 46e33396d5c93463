/**
 * No Chromium outlives what it was started for: a worker killed with -9 leaves its browsers
 * running, and the next start of the worker kills them (through the CLI); a task deleted
 * mid-crawl takes the browser down with it (through the engine, as the cluster worker deletes);
 * a browser task on a worker without Chromium fails at start, naming the key to set.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import {
  type ConfigInput,
  configText,
  runCrawler,
  spawnCrawler,
  waitFor,
  writeConfig,
} from "./kit/mod.ts";
import { startSpaFixture } from "./spa_fixture.ts";
import { chromiumIn, requireChromium } from "./browser_harness.ts";
import { parseConfig } from "../config/load_config.ts";
import { createEngine } from "../worker/engine_deps.ts";
import { seedTasks } from "../worker/standalone.ts";
import { silentLogger } from "../log/logger.ts";
import { createWorkerRegistry } from "../metrics/worker_registry.ts";

/** A crawl of the shop's app in Chromium; `browser` goes over the `[browser]` settings. */
function config(dir: string, siteUrl: string, browser: ConfigInput["browser"] = {}): ConfigInput {
  return {
    logLevel: "info",
    fetcher: { timeout: 5000 },
    browser: { maxPages: 2, timeoutMs: 8000, idleMs: 250, dataDir: `${dir}/browser`, ...browser },
    frontier: { url: `sqlite:${dir}/frontier.db`, leaseTime: 5 },
    storage: { sqlURL: `sqlite:${dir}/results.db` },
    Tasks: [{
      Name: "shop",
      URL: `${siteUrl}/app/`,
      MaxDepth: 30,
      Fetcher: "browser",
      Spec: {
        rules: {
          list: {
            links: [{ selector: "a.item", rule: "item" }, { selector: "a.next", rule: "list" }],
          },
          item: { output: { fields: { name: { selector: "h1.name" } } } },
        },
      },
    }],
  };
}

function itemRows(dir: string): number {
  const db = new DatabaseSync(`${dir}/results.db`);
  try {
    return (db.prepare(`SELECT count(DISTINCT url) AS n FROM "shop"`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

Deno.test("after kill -9, the worker's next start kills the browsers it left, then finishes the crawl", async () => {
  await requireChromium();
  // Slow answers keep the crawl going long enough to be killed in the middle of it.
  const site = startSpaFixture({ items: 24, perList: 8, apiDelayMs: 400 });
  const dir = await Deno.makeTempDir({ prefix: "crawler_browser_kill_" });
  const dataDir = `${dir}/browser`;
  try {
    await writeConfig(`${dir}/config.toml`, config(dir, site.url));
    const args = ["worker", "--cluster=false", `--config=${dir}/config.toml`];
    const first = spawnCrawler(args);
    // Its output is drained, or a full pipe would stall it.
    const firstOutput = first.output();
    await waitFor(() => site.hits("/api/item/") >= 4, {
      what: "a few items rendered",
      timeoutMs: 60_000,
    });
    const left = await chromiumIn(dataDir);
    assert.ok(left.length > 0, "Chromium runs");
    first.kill("SIGKILL");
    await firstOutput;
    // Its own process group: the kill of the worker did not reach it.
    assert.ok((await chromiumIn(dataDir)).length > 0, "the killed worker's Chromium is orphaned");

    const second = spawnCrawler(args);
    const secondOutput = second.output();
    await waitFor(async () => {
      const running = new Set(await chromiumIn(dataDir));
      return left.every((pid) => !running.has(pid));
    }, { what: "the orphans gone", timeoutMs: 30_000 });
    const output = await secondOutput;
    const stdout = new TextDecoder().decode(output.stdout);
    const stderr = new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 0, stderr.slice(-3000));
    assert.match(stderr, /killed browsers left by an earlier run of this worker/);
    assert.match(stdout, /task shop: resuming the crawl/);
    assert.match(stdout, /task shop: finished/);
    assert.equal(itemRows(dir), site.items.length, "every item, across both runs");
    assert.deepEqual(await chromiumIn(dataDir), [], "none left after the crawl");
  } finally {
    await site.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deleting a task mid-crawl closes the worker's browser, and /metrics shows what it rendered", async () => {
  await requireChromium();
  const site = startSpaFixture({ items: 60, perList: 10, apiDelayMs: 300 });
  const dir = await Deno.makeTempDir({ prefix: "crawler_browser_delete_" });
  const dataDir = `${dir}/browser`;
  const cfg = parseConfig(configText(config(dir, site.url)));
  const engine = await createEngine(cfg, silentLogger, { owner: "crawler.worker-delete-test" });
  try {
    const [task] = seedTasks(cfg, new Map());
    const run = engine.crawler.start(task);
    const opening = await run.opened;
    await waitFor(() => run.stats.items >= 3, { what: "a few items rendered", timeoutMs: 60_000 });
    assert.ok((await chromiumIn(dataDir)).length > 0, "Chromium runs");

    // What the cluster worker does when the task's resource is deleted.
    engine.crawler.dropCrawl("shop", opening.crawl);
    await waitFor(async () => (await chromiumIn(dataDir)).length === 0, {
      what: "the browser closed",
      timeoutMs: 30_000,
    });
    assert.ok(run.stats.items < site.items.length, "stopped mid-crawl");

    const registry = createWorkerRegistry({
      workerId: "w",
      tasks: () => [],
      browser: engine.browserMetrics,
    });
    const text = await registry.metrics();
    const value = (series: string) =>
      Number(new RegExp(`^${series.replace(/[{}"]/g, "\\$&")} (\\S+)$`, "m").exec(text)?.[1]);
    assert.ok(value('crawler_browser_pages_rendered_total{outcome="ok"}') >= 3, text);
    assert.equal(value('crawler_browser_launches_total{reason="first"}'), 1);
    assert.ok(value("crawler_browser_render_seconds_count") >= 3);
    assert.equal(value("crawler_browser_pages_open"), 0);
    assert.equal(value("crawler_browser_processes"), 0);
  } finally {
    await engine.close();
    await site.close();
  }
  assert.deepEqual(await chromiumIn(dataDir), []);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a browser task on a worker without Chromium fails at start, naming browser.executablePath", async () => {
  const site = startSpaFixture({ items: 3 });
  const dir = await Deno.makeTempDir({ prefix: "crawler_browser_missing_" });
  try {
    await writeConfig(
      `${dir}/config.toml`,
      config(dir, site.url, { executablePath: "/nonexistent/chromium" }),
    );
    const result = await runCrawler(["worker", "--cluster=false", `--config=${dir}/config.toml`]);
    assert.equal(result.code, 2, result.stderr);
    assert.match(
      result.stderr,
      /browser\.executablePath: Chromium not found at \/nonexistent\/chromium.*\[browser\] executablePath/,
    );
    assert.equal(site.requests.size, 0, "nothing was fetched");
  } finally {
    await site.close();
    await Deno.remove(dir, { recursive: true });
  }
});
