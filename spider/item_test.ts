import assert from "node:assert/strict";
import { itemKey } from "./item.ts";
import { ParseContext } from "./parse_context.ts";
import type { CrawlRequest } from "../frontier/crawl_request.ts";

const req: CrawlRequest = {
  url: "http://shop.test/list?page=2",
  method: "GET",
  depth: 1,
  priority: 0,
  ruleName: "list",
  attempt: 0,
};

Deno.test("items of a page are keyed by page URL and position, the same when parsed again", () => {
  const keys = () => {
    const ctx = new ParseContext("shop", req, "<html></html>");
    return [ctx.output({ n: 1 }), ctx.output({ n: 2 }), ctx.output({ n: 3 })].map((i) => i.key);
  };
  const first = keys();
  assert.deepEqual(first, [
    "http://shop.test/list?page=2#0",
    "http://shop.test/list?page=2#1",
    "http://shop.test/list?page=2#2",
  ]);
  assert.deepEqual(keys(), first);
});

Deno.test("an item with a key field is keyed by its value wherever it is found", () => {
  const ctx = new ParseContext("shop", req, "");
  const other = new ParseContext("shop", { ...req, url: "http://shop.test/item/9" }, "");
  const a = ctx.output({ sku: "A-9", title: "x" }, { keyField: "sku" });
  const b = other.output({ sku: "A-9", title: "y" }, { keyField: "sku" });
  assert.equal(a.key, "sku=A-9");
  assert.equal(b.key, a.key);
  assert.equal(itemKey("http://x/", 0, { id: 42 }, "id"), "id=42");
});

Deno.test("a key field without a value falls back to the item's position", () => {
  const ctx = new ParseContext("shop", req, "");
  ctx.output({ sku: "A-1" }, { keyField: "sku" });
  assert.equal(ctx.output({ sku: null }, { keyField: "sku" }).key, `${req.url}#1`);
  assert.equal(ctx.output({ sku: "" }, { keyField: "sku" }).key, `${req.url}#2`);
  assert.equal(ctx.output({}, { keyField: "sku" }).key, `${req.url}#3`);
});
