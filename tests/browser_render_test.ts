/**
 * Pages that need a browser, through the real CLI in standalone mode, against a 100-item shop
 * built by JavaScript from a JSON API and its server-rendered twin (`spa_fixture.ts`). Three
 * tasks with the same rules crawl at once: the app over plain HTTP, the app in Chromium, the
 * twin over plain HTTP. While they run, the test counts the pages open in the worker's
 * browsers through the DevTools protocol.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { type ConfigInput, spawnCrawler, writeConfig } from "./kit/mod.ts";
import { startSpaFixture } from "./spa_fixture.ts";
import { chromiumIn, requireChromium, samplePages } from "./browser_harness.ts";

const ITEMS = 100;
const MAX_PAGES = 4;
/** A fresh browser every 20 pages: over ~110 renders, at least 5 launches. */
const RETIRE_AFTER = 20;

/** The rules of all three tasks: lists link items and the next list; items have three fields. */
function spec(prefix: string) {
  return {
    roots: [
      { url: `${prefix}/`, rule: "list" },
      { url: `${prefix}/forever`, rule: "probe" },
      { url: `${prefix}/private/secret`, rule: "probe" },
    ],
    rules: {
      list: {
        links: [{ selector: "a.item", rule: "item" }, { selector: "a.next", rule: "list" }],
      },
      item: {
        output: {
          fields: {
            name: { selector: "h1.name" },
            price: { selector: ".price" },
            sku: { selector: ".sku", attr: "data-sku" },
          },
        },
      },
      probe: {},
    },
  };
}

function rows(dir: string, table: string): Array<Record<string, unknown>> {
  const db = new DatabaseSync(`${dir}/results.db`);
  try {
    const exists = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?")
      .get(table);
    if (!exists) return [];
    return db.prepare(`SELECT * FROM "${table}" ORDER BY id`).all() as Array<
      Record<string, unknown>
    >;
  } finally {
    db.close();
  }
}

/** Each row as `path name price sku`, the path without its `/app` or `/ssr` prefix. */
function comparable(table: Array<Record<string, unknown>>): string[] {
  return table.map((r) =>
    `${new URL(String(r.url)).pathname.replace(/^\/(app|ssr)/, "")} ${r.name} ${r.price} ${r.sku}`
  ).sort();
}

Deno.test("a script-built shop: plain HTTP finds no item, Chromium all 100, the same rows as the server-rendered twin", async () => {
  await requireChromium();
  const site = startSpaFixture({ items: ITEMS });
  const dir = await Deno.makeTempDir({ prefix: "crawler_render_" });
  const dataDir = `${dir}/browser`;
  try {
    const task = (name: string, path: string, fetcher?: string) => ({
      Name: name,
      URL: `${site.url}${path}/`,
      MaxDepth: 30,
      Fetcher: fetcher,
      Spec: spec(path),
    });
    const config: ConfigInput = {
      logLevel: "info",
      fetcher: { timeout: 5000 },
      browser: {
        maxPages: MAX_PAGES,
        retireAfterPages: RETIRE_AFTER,
        timeoutMs: 8000,
        idleMs: 250,
        dataDir,
      },
      frontier: { url: `sqlite:${dir}/frontier.db` },
      storage: { sqlURL: `sqlite:${dir}/results.db` },
      Tasks: [
        task("app_http", "/app"),
        task("app_browser", "/app", "browser"),
        task("twin", "/ssr"),
      ],
    };
    await writeConfig(`${dir}/config.toml`, config);
    const sampler = samplePages(dataDir, 250);
    const child = spawnCrawler(["worker", "--cluster=false", `--config=${dir}/config.toml`]);
    const output = await child.output();
    const sampled = await sampler.stop();
    const stdout = new TextDecoder().decode(output.stdout);
    const stderr = new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 0, stderr.slice(-3000));

    const summary = (task: string) => {
      const line = new RegExp(`task ${task}: finished, fetched=(\\d+) failed=(\\d+) items=(\\d+)`)
        .exec(stdout);
      assert.ok(line, `no summary of ${task} in:\n${stdout}`);
      return { fetched: Number(line[1]), failed: Number(line[2]), items: Number(line[3]) };
    };
    // Plain HTTP sees the empty shell: no link to follow, no field to read.
    assert.equal(summary("app_http").items, 0);
    assert.equal(rows(dir, "app_http").length, 0);
    // The twin, over HTTP, and the app, in Chromium, give the same rows, one per item.
    const twin = rows(dir, "twin");
    const app = rows(dir, "app_browser");
    assert.equal(twin.length, ITEMS);
    assert.equal(app.length, ITEMS, `${app.length} of ${ITEMS} items from the app`);
    assert.deepEqual(comparable(app), comparable(twin));
    assert.deepEqual(
      comparable(twin),
      site.items.map((i) => `/item/${i.id} ${i.name} ${i.price} ${i.sku}`).sort(),
    );

    // /app/forever never settles: it failed with a render timeout (after its retry), alone.
    const browserTask = summary("app_browser");
    assert.equal(browserTask.failed, 1, stdout);
    assert.match(stdout, /failures: 1 \(render timeout: 1\)/);
    assert.match(stderr, /render timeout: http:\/\/127\.0\.0\.1:\d+\/app\/forever was not ready/);
    // robots.txt disallows /app/private: never navigated (nor fetched by the other tasks).
    assert.equal(site.hits("/app/private") + site.hits("/ssr/private"), 0);
    // No image, and nothing from another host (each item page fetches a beacon from localhost).
    assert.equal(site.imageRequests(), 0);
    assert.equal(site.foreignRequests(), 0);

    // Never more than maxPages pages open, sampled through the DevTools protocol.
    assert.ok(sampled.samples > 20, `only ${sampled.samples} samples`);
    assert.ok(sampled.maxPages >= 1, "the sampler saw the browser's pages");
    assert.ok(sampled.maxPages <= MAX_PAGES, `${sampled.maxPages} pages open at once`);
    // A fresh browser every RETIRE_AFTER pages.
    const launches = stderr.split("\n").filter((l) => l.includes('"msg":"browser started"'));
    assert.ok(launches.length >= 5, `${launches.length} browsers launched`);
    assert.ok(sampled.browsers.size >= 2, `the sampler saw ${sampled.browsers.size} browsers`);

    // After the crawl, no Chromium of the worker runs, and its profiles are gone.
    assert.deepEqual(await chromiumIn(dataDir), []);
    assert.deepEqual(
      [...Deno.readDirSync(dataDir)].map((e) => e.name),
      [],
      "profiles and pid file removed",
    );
    console.log(
      `render test: ${ITEMS} items, ${launches.length} browsers, at most ${sampled.maxPages} ` +
        `pages open (${sampled.samples} samples); ${/summary: .*/.exec(stdout)?.[0]}`,
    );
  } finally {
    await site.close();
    await Deno.remove(dir, { recursive: true });
  }
});
