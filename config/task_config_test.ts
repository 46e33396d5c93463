import assert from "node:assert/strict";
import { parseConfig } from "./load_config.ts";
import { ConfigError } from "../errors/mod.ts";
import { taskDefinitionFromConfig } from "./task_config.ts";
import { buildTask } from "../spider/task_definition.ts";
import { builtinRuleSets } from "../rulesets/mod.ts";

Deno.test("a Tasks entry with a Spec builds a task running its declarative rule set", () => {
  const config = parseConfig(`
Tasks = [
  {Name = "site", URL = "http://127.0.0.1:8080/", MaxDepth = 50, Spec = {
    rules = {
      page = {links = [{rule = "page", sameHost = true}],
              output = {fields = {title = {regex = "<title>([^<]*)</title>"}}}},
    },
  }},
  {Name = "books", Rule = "douban_book_list"},
]`);
  const [site, books] = config.Tasks.map((t) =>
    buildTask(taskDefinitionFromConfig(t), builtinRuleSets())
  );
  assert.equal(site.ruleSet.name, "site");
  assert.deepEqual(Object.keys(site.ruleSet.rules), ["page"]);
  assert.deepEqual(site.ruleSet.rules.page.itemFields, ["title"]);
  assert.equal(site.options.maxDepth, 50);
  assert.equal(books.ruleSet.name, "douban_book_list", "built-in rule sets as before");
});

Deno.test("a Spec can be written as [[Tasks]] tables too", () => {
  const config = parseConfig(`
[[Tasks]]
Name = "site"
URL = "http://127.0.0.1:8080/"

[[Tasks.Spec.roots]]
url = "/index.html"
rule = "list"

[Tasks.Spec.rules.list]
links = [{selector = "a.item", rule = "item"}, {rule = "list", match = "/list/"}]

[Tasks.Spec.rules.item.output]
each = "div.product"
fields = {name = {selector = "h2"}, price = {selector = ".price", regex = "([0-9.]+)"}}
`);
  const task = buildTask(taskDefinitionFromConfig(config.Tasks[0]), new Map());
  assert.deepEqual(task.ruleSet.root({ url: task.options.url }), [
    { url: "http://127.0.0.1:8080/index.html", ruleName: "list", priority: 0, method: "GET" },
  ]);
  assert.deepEqual(task.ruleSet.rules.item.itemFields, ["name", "price"]);
});

Deno.test("a Spec whose sitemaps are absolute URLs needs no task URL", () => {
  const config = parseConfig(`[[Tasks]]
Name = "site"
Spec = {rules = {page = {}}, sitemaps = {rule = "page", urls = ["http://127.0.0.1:8080/s.xml"]}}
`);
  const task = buildTask(taskDefinitionFromConfig(config.Tasks[0]), new Map());
  assert.equal(task.options.url, "http://127.0.0.1:8080/s.xml");
  assert.deepEqual(task.ruleSet.root({ url: task.options.url }).map((r) => r.url), [
    "http://127.0.0.1:8080/s.xml",
  ]);
});

Deno.test("a bad Spec is a config error naming the key", () => {
  const bad = (spec: string, extra = `URL = "http://127.0.0.1:8080/", `) => {
    try {
      parseConfig(`Tasks = [{Name = "site", ${extra}Spec = ${spec}}]`);
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      return error.message;
    }
    assert.fail("expected a ConfigError");
  };
  assert.match(
    bad(`{rules = {page = {links = [{regex = "href=(", rule = "page"}]}}}`),
    /^Tasks\[0\]\.Spec\.rules\.page\.links\[0\]\.regex: invalid regular expression/,
  );
  assert.match(
    bad(`{rules = {page = {links = [{selector = "a[href", rule = "page"}]}}}`),
    /^Tasks\[0\]\.Spec\.rules\.page\.links\[0\]\.selector: invalid selector "a\[href"/,
  );
  assert.match(
    bad(`{rules = {page = {links = [{rule = "detail"}]}}}`),
    /^Tasks\[0\]\.Spec\.rules\.page\.links\[0\]\.rule: unknown rule "detail"/,
  );
  assert.match(bad(`{rules = {page = {}}}`, ""), /^Tasks\[0\]\.URL: required with a Spec/);
  assert.match(
    bad(`{rules = {page = {}}, sitemaps = {rule = "page"}}`, ""),
    /^Tasks\[0\]\.URL: required with a Spec that has no absolute root or sitemap url/,
  );
  assert.match(
    bad(`{rules = {page = {}}}`, `URL = "http://127.0.0.1:8080/", Rule = "douban_book_list", `),
    /^Tasks\[0\]\.Rule: give Rule or Spec, not both/,
  );
});
