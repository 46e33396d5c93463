/**
 * A task's browser figures as a real Chromium produces them (Debian's `chromium`, or
 * `CHROMIUM_PATH`): pages rendered and failed, render times, pages open, and the restarts of a
 * browser retired after `retireAfterPages`, counted by the render that used the new browser first.
 */
import assert from "node:assert/strict";
import { silentLogger } from "../log/logger.ts";
import { BrowserFetcher } from "../spider/browser/browser_fetcher.ts";
import type { LaunchReason } from "../spider/browser/browser_pool.ts";
import { chromiumPath } from "../spider/browser/chromium_binary.ts";
import { RenderTally } from "../spider/browser/render_stats.ts";
import { FetchError } from "../spider/fetcher.ts";

Deno.test("a task's renders, failures, open pages and browser restarts are counted for it", async () => {
  const chromium = chromiumPath();
  await Deno.stat(chromium).catch(() => {
    throw new Error(`Chromium is not installed at ${chromium} (set CHROMIUM_PATH)`);
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const { pathname } = new URL(req.url);
    return new Response(`<!DOCTYPE html><title>${pathname}</title>`, {
      status: pathname === "/broken" ? 500 : 200,
      headers: { "content-type": "text/html" },
    });
  });
  const site = `http://127.0.0.1:${server.addr.port}`;
  const dataDir = await Deno.makeTempDir({ prefix: "crawler_render_stats_test_" });
  const launches: LaunchReason[] = [];
  const browser = new BrowserFetcher({
    dataDir,
    logger: silentLogger,
    maxPages: 1,
    retireAfterPages: 3,
    timeoutMs: 10_000,
    observer: { rendered() {}, launched: (reason) => launches.push(reason) },
  });
  const task = new RenderTally();
  const other = new RenderTally();
  try {
    const render = (path: string, watch: RenderTally) =>
      browser.fetch({
        url: site + path,
        method: "GET",
        render: { waitUntil: "load" },
        renderWatch: watch,
      });
    for (const path of ["/1", "/2", "/3", "/4"]) await render(path, task);
    await assert.rejects(render("/broken", task), (e) => e instanceof FetchError);
    await render("/5", task);
    await render("/6", other);
  } finally {
    await browser.shutdown();
    await server.shutdown();
    await Deno.remove(dataDir, { recursive: true });
  }
  // Browsers of three renders each: the 4th and the 7th began on a new one.
  assert.deepEqual(launches, ["first", "retired", "retired"]);
  assert.equal(task.stats.rendered, 5);
  assert.equal(task.stats.failed, 1, "the 500 answer");
  assert.equal(task.stats.restarts, 1);
  assert.equal(task.stats.open, 0);
  assert.equal(task.stats.seconds.reduce((a, b) => a + b), 6, "every render timed");
  assert.deepEqual([other.stats.rendered, other.stats.restarts], [1, 1]);
});
