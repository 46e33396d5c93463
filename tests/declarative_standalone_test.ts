/**
 * Declarative rule sets defined only in a config file, crawled through the real CLI.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { runCrawler, writeConfig } from "./kit/mod.ts";
import { startShopFixture } from "./shop_fixture.ts";

function rows(dir: string, table: string): Array<Record<string, unknown>> {
  const db = new DatabaseSync(`${dir}/results.db`);
  try {
    return db.prepare(`SELECT * FROM "${table}" ORDER BY id`).all() as Array<
      Record<string, unknown>
    >;
  } finally {
    db.close();
  }
}

function columns(dir: string, table: string): string[] {
  const db = new DatabaseSync(`${dir}/results.db`);
  try {
    return (db.prepare(`PRAGMA table_info("${table}")`).all() as Array<{ name: string }>).map((c) =>
      c.name
    );
  } finally {
    db.close();
  }
}

Deno.test("a whole-site crawl defined only in the config stores a column per field", async () => {
  const site = startShopFixture();
  const dir = await Deno.makeTempDir();
  try {
    const config = await writeConfig(`${dir}/config.toml`, {
      logLevel: "warn",
      fetcher: { timeout: 5000 },
      frontier: { url: `sqlite:${dir}/frontier.db` },
      storage: { sqlURL: `sqlite:${dir}/results.db` },
      Tasks: [{
        Name: "shop",
        URL: `${site.url}/`,
        MaxDepth: 20,
        Spec: {
          rules: {
            home: { links: [{ selector: "nav a.category", rule: "category", sameHost: true }] },
            category: {
              links: [
                { regex: 'data-next="([^"]+)"', rule: "category" },
                { rule: "product", match: "/product/\\d+$" },
              ],
              output: {
                each: "div.product",
                fields: {
                  name: { selector: "h2" },
                  price: { selector: ".price", regex: "([0-9.]+)" },
                },
              },
            },
            product: {
              output: {
                fields: {
                  title: { regex: "<title>([^<]*)</title>" },
                  sku: { selector: "#sku", attr: "data-sku" },
                },
              },
            },
          },
        },
      }, {
        Name: "offers",
        URL: `${site.url}/`,
        MaxDepth: 20,
        Spec: {
          rules: {
            page: {
              links: [{ rule: "page", sameHost: true }],
              output: { pageMatches: "Limited offer" },
            },
          },
        },
      }],
    });
    const result = await runCrawler(["worker", "--cluster=false", `--config=${config}`]);
    assert.equal(result.code, 0, result.stderr);
    const summary = /summary: done .* fetched=(\d+) failed=(\d+) items=(\d+) stored=(\d+)/.exec(
      result.stdout,
    );
    assert.ok(summary, result.stdout);
    const [fetched, failed, items, stored] = summary.slice(1).map(Number);
    assert.equal(failed, 0, "the link to another host was never followed");
    assert.equal(fetched, site.pages * 2, "both tasks fetched every page once");
    assert.equal(items, stored);

    const shop = rows(dir, "shop");
    assert.deepEqual(columns(dir, "shop"), [
      "id",
      "item_key",
      "rule",
      "url",
      "time",
      "name",
      "price",
      "title",
      "sku",
    ]);
    const listed = shop.filter((r) => r.rule === "category");
    assert.deepEqual(
      listed.map((r) => [r.name, r.price]).sort(),
      site.products.map((p) => [p.name, p.price]).sort(),
      "one row per product block on the category pages",
    );
    const detail = shop.filter((r) => r.rule === "product");
    assert.deepEqual(
      detail.map((r) => [r.url, r.title, r.sku]).sort(),
      site.products.map((
        p,
      ) => [`${site.url}/product/${p.id}`, p.name.replace("<", "&lt;").replace(">", "&gt;"), p.sku])
        .sort(),
      "one row per product page; regex fields read the raw HTML",
    );
    assert.equal(shop.length, listed.length + detail.length);
    for (const p of site.products) {
      assert.equal(site.requests.get(`/product/${p.id}`), 2, "once per task");
    }

    const offers = rows(dir, "offers");
    assert.deepEqual(columns(dir, "offers"), ["id", "item_key", "rule", "url", "time"]);
    assert.deepEqual(
      offers.map((r) => r.url).sort(),
      site.products.filter((p) => p.offer).map((p) => `${site.url}/product/${p.id}`).sort(),
    );
  } finally {
    await site.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a bad Spec in the config exits 2 naming the key, before anything is fetched", async () => {
  const site = startShopFixture();
  const dir = await Deno.makeTempDir();
  try {
    const config = await writeConfig(`${dir}/config.toml`, {
      // A regex with no capture group: a link rule needs one.
      Tasks: [{
        Name: "shop",
        URL: `${site.url}/`,
        Spec: { rules: { page: { links: [{ regex: 'href="[^"]+"', rule: "page" }] } } },
      }],
      storage: { sqlURL: `sqlite:${dir}/results.db` },
    });
    const result = await runCrawler(["worker", "--cluster=false", `--config=${config}`]);
    assert.equal(result.code, 2, result.stderr);
    assert.match(
      result.stderr,
      /crawler: Tasks\[0\]\.Spec\.rules\.page\.links\[0\]\.regex: regular expression .* needs a capture group/,
    );
    assert.equal(site.requests.size, 0);
  } finally {
    await site.close();
    await Deno.remove(dir, { recursive: true });
  }
});
