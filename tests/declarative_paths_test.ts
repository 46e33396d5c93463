/**
 * A rule set mixing selectors the streaming engine runs with one that needs linkedom's DOM,
 * crawled by `crawler dev` over HTTP: every rule gives its values, and the task status says
 * which path each rule takes and why.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { startShopFixture } from "./shop_fixture.ts";
import { http, startDev, waitFor } from "./kit/mod.ts";

interface TaskStatus {
  name: string;
  state: string;
  stats?: { fetched: number; failed: number };
  parsePaths?: Record<string, { path: string; reason?: string }>;
}

Deno.test("a rule set mixing streamed and DOM selectors crawls, and the status shows each path", async () => {
  const site = startShopFixture({ categories: 3, pagesPerCategory: 2, perPage: 4 });
  const dir = await Deno.makeTempDir();
  const dev = await startDev({ cwd: dir });
  try {
    await waitFor(async () => (await http(dev.url("/worker/readyz"))).status === 200, {
      what: "the worker",
      timeoutMs: 20_000,
    });
    const spec = {
      url: `${site.url}/`,
      maxDepth: 20,
      rules: {
        // Only the a[href] scan: nothing parsed.
        home: { links: [{ rule: "category", sameHost: true, match: "/c/\\d+$" }] },
        // `+` is outside the streaming subset: this rule reads linkedom's DOM.
        category: {
          links: [
            { selector: "main > a.next", rule: "category" },
            { selector: "div.product h2 a", rule: "product" },
          ],
          output: {
            each: "div.product",
            fields: {
              name: { selector: "h2 > a" },
              price: { selector: "h2 + span.price", regex: "([0-9.]+)" },
            },
          },
        },
        // Streamed: no DOM.
        product: {
          output: {
            fields: {
              title: { selector: "title" },
              heading: { selector: "body > h1" },
              sku: { selector: "div#sku[data-sku^='SKU-']", attr: "data-sku" },
            },
          },
        },
      },
    };
    const added = await http(dev.url("/crawler/resource"), {
      method: "POST",
      json: { name: "mixed", spec },
    });
    assert.equal(added.status, 200, JSON.stringify(added.body));

    const task = async () =>
      ((await http(dev.url("/worker/tasks"))).body.tasks as TaskStatus[]).find((t) =>
        t.name === "mixed"
      );
    await waitFor(async () => (await task())?.state === "finished", {
      what: "the task to finish",
      timeoutMs: 20_000,
    });
    const status = (await task())!;
    assert.deepEqual(status.parsePaths, {
      home: { path: "scan" },
      category: {
        path: "dom",
        reason: 'output.fields.price.selector "h2 + span.price": the + combinator is not supported',
      },
      product: { path: "stream" },
    });
    assert.equal(status.stats!.fetched, site.pages);
    assert.equal(status.stats!.failed, 0);
    assert.equal((await dev.stop("SIGINT")).code, 0, dev.logs.slice(-20).join("\n"));

    const db = new DatabaseSync(`${dir}/data/crawler.db`);
    let rows: Array<Record<string, string | null>>;
    try {
      rows = db.prepare(`SELECT * FROM "mixed" ORDER BY id`).all() as typeof rows;
    } finally {
      db.close();
    }
    assert.deepEqual(
      rows.filter((r) => r.rule === "category").map((r) => [r.name, r.price]).sort(),
      site.products.map((p) => [p.name, p.price]).sort(),
      "the DOM rule: one row per product block",
    );
    assert.deepEqual(
      rows.filter((r) => r.rule === "product").map((r) => [r.url, r.title, r.heading, r.sku])
        .sort(),
      site.products.map((p) => [`${site.url}/product/${p.id}`, p.name, p.name, p.sku]).sort(),
      "the streamed rule: text with entities decoded, and attributes",
    );
  } catch (error) {
    console.error(dev.logs.slice(-40).join("\n"));
    throw error;
  } finally {
    await dev.stop("SIGKILL");
    await site.close();
    await Deno.remove(dir, { recursive: true });
  }
});
