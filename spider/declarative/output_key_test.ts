import assert from "node:assert/strict";
import { compileRuleSet } from "./compile_rule_set.ts";
import { declarativeSpecSchema } from "./spec_schema.ts";
import { formatIssues } from "./_issues.ts";
import { ParseContext } from "../parse_context.ts";
import type { ParseResult } from "../rule_set.ts";

const BODY = `<ul><li data-sku="A-1"><b>one</b></li><li data-sku="A-2"><b>two</b></li>
<li><b>no sku</b></li></ul>`;

function keys(output: Record<string, unknown>): string[] {
  const spec = declarativeSpecSchema.parse({ rules: { list: { output } } });
  const ruleSet = compileRuleSet("shop", spec);
  const ctx = new ParseContext("shop", {
    url: "http://shop.test/list",
    method: "GET",
    depth: 0,
    priority: 0,
    ruleName: "list",
    attempt: 0,
  }, BODY);
  const result = ruleSet.rules.list.parse(ctx) as ParseResult;
  return result.items!.map((item) => item.key);
}

Deno.test("declarative items are keyed by position unless the output names a key field", () => {
  const fields = { sku: { attr: "data-sku" }, name: { selector: "b" } };
  assert.deepEqual(keys({ each: "li", fields }), [
    "http://shop.test/list#0",
    "http://shop.test/list#1",
    "http://shop.test/list#2",
  ]);
  assert.deepEqual(keys({ each: "li", fields, key: "sku" }), [
    "sku=A-1",
    "sku=A-2",
    "http://shop.test/list#2",
  ]);
});

Deno.test("an output key must name one of the output's fields", () => {
  const result = declarativeSpecSchema.safeParse({
    rules: { list: { output: { each: "li", fields: { name: { selector: "b" } }, key: "sku" } } },
  });
  assert.equal(result.success, false);
  assert.match(
    formatIssues(result.error!),
    /rules\.list\.output\.key: "sku" is not a field of this output/,
  );
});

Deno.test("item_key is a column of every results table, so no field may take the name", () => {
  const result = declarativeSpecSchema.safeParse({
    rules: { list: { output: { fields: { item_key: { regex: "(x)" } } } } },
  });
  assert.equal(result.success, false);
  assert.match(formatIssues(result.error!), /"item_key" is a column of every results table/);
});
