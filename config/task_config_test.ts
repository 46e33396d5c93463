import assert from "node:assert/strict";
import { parseConfig } from "./load_config.ts";
import { ConfigError } from "../errors/mod.ts";
import { taskDefinitionFromConfig } from "./task_config.ts";
import { buildTask } from "../spider/task_definition.ts";
import { builtinRuleSets } from "../rulesets/mod.ts";
import { DEFAULT_RECRAWL } from "../spider/recrawl.ts";

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

Deno.test("a task's Recrawl becomes its recrawl policy, unset keys from the defaults", () => {
  const config = parseConfig(`
Tasks = [
  {Name = "books", Rule = "douban_book_list", Recrawl = {Interval = "6h", Max = "7d", Adaptive = false}},
  {Name = "fast", Rule = "douban_book_list", Recrawl = {Interval = 90000}},
  {Name = "all", Rule = "douban_book_list", Recrawl = {}},
  {Name = "once", Rule = "douban_book_list"},
]`);
  const [books, fast, all, once] = config.Tasks.map((t) =>
    buildTask(taskDefinitionFromConfig(t), builtinRuleSets()).options.recrawl
  );
  assert.deepEqual(books, {
    intervalMs: 6 * 3_600_000,
    minMs: 3_600_000,
    maxMs: 7 * 86_400_000,
    adaptive: false,
  });
  assert.deepEqual(fast, {
    intervalMs: 90_000,
    minMs: 90_000,
    maxMs: 14 * 86_400_000,
    adaptive: true,
  }, "an Interval below the default Min lowers Min to it");
  assert.deepEqual(all, { ...DEFAULT_RECRAWL });
  assert.equal(once, undefined, "a task without Recrawl fetches each page once");
  const tables = parseConfig(`
[[Tasks]]
Name = "tables"
Rule = "douban_book_list"
[Tasks.Recrawl]
Interval = "24h"
Min = "1h"
Max = "14d"
Adaptive = true
`);
  assert.deepEqual(taskDefinitionFromConfig(tables.Tasks[0]).recrawl, { ...DEFAULT_RECRAWL });
});

Deno.test("a Spec rule's recrawl builds on the task's Recrawl, and a rule alone recrawls", () => {
  const config = parseConfig(`
[[Tasks]]
Name = "shop"
URL = "http://127.0.0.1:8080/"
Recrawl = {Interval = "7d", Min = "1d", Max = "30d"}
[Tasks.Spec.rules.list]
links = [{selector = "a.item", rule = "item"}]
recrawl = {interval = "1d", min = "1h"}
[Tasks.Spec.rules.item]
output = {fields = {name = {selector = "h2"}}}

[[Tasks]]
Name = "news"
URL = "http://127.0.0.1:8080/"
[Tasks.Spec.rules.front]
recrawl = {interval = "15m"}
[Tasks.Spec.rules.story]
`);
  const [shop, news] = config.Tasks.map((t) => buildTask(taskDefinitionFromConfig(t), new Map()));
  assert.equal(shop.options.recrawl?.intervalMs, 7 * 86_400_000);
  assert.deepEqual(shop.ruleSet.recrawl, {
    list: { intervalMs: 86_400_000, minMs: 3_600_000, maxMs: 30 * 86_400_000, adaptive: true },
  });
  assert.equal(news.options.recrawl, undefined);
  assert.deepEqual(news.ruleSet.recrawl, {
    front: { intervalMs: 15 * 60_000, minMs: 15 * 60_000, maxMs: 14 * 86_400_000, adaptive: true },
  });
});

Deno.test("bad Recrawl values are rejected naming the task and the key", () => {
  const cases: Array<[string, RegExp]> = [
    [
      `Recrawl = {Interval = "1 day"}`,
      /^Tasks\[0\]\.Recrawl\.Interval: task "books": "1 day" is not a duration/,
    ],
    [`Recrawl = {Min = -5}`, /^Tasks\[0\]\.Recrawl\.Min: task "books": .*positive number of ms/],
    [
      `Recrawl = {Min = "2d", Max = "1d"}`,
      /^Tasks\[0\]\.Recrawl\.Min: task "books": recrawl min \(2d\) is above max \(1d\)/,
    ],
    [
      `Recrawl = {Max = "30m"}`,
      /^Tasks\[0\]\.Recrawl\.Max: task "books": recrawl min \(1h\) is above max \(30m\)/,
    ],
    [
      `Recrawl = {Interval = "1h", Min = "2h"}`,
      /^Tasks\[0\]\.Recrawl\.Interval: task "books": recrawl interval \(1h\) is outside min\.\.max/,
    ],
    [
      `Recrawl = {Min = "2d"}`,
      /^Tasks\[0\]\.Recrawl\.Min: task "books": recrawl interval \(1d\) is outside/,
    ],
    [
      `Recrawl = {Intreval = "1h"}`,
      /^Tasks\[0\]\.Recrawl: unknown key "Intreval" \(recrawl keys: Interval, Min, Max, Adaptive\)/,
    ],
    [`Recrawl = {Adaptive = "yes"}`, /^Tasks\[0\]\.Recrawl\.Adaptive: .*expected boolean/],
    [`Recrawl = "24h"`, /^Tasks\[0\]\.Recrawl: .*expected object/],
  ];
  for (const [recrawl, expected] of cases) {
    const text = `Tasks = [{Name = "books", Rule = "douban_book_list", ${recrawl}}]`;
    assert.throws(() => parseConfig(text), (error: unknown) => {
      assert.ok(error instanceof ConfigError, `${text} → ${error}`);
      assert.match(error.message, expected);
      return true;
    });
  }
});

Deno.test("a Spec rule's recrawl that does not fit its task's Recrawl names the rule's key", () => {
  const spec = (recrawl: string) => `
[[Tasks]]
Name = "shop"
URL = "http://127.0.0.1:8080/"
Recrawl = {Interval = "7d"}
[Tasks.Spec.rules.list]
recrawl = ${recrawl}
`;
  // Over the task's 7d interval, a 2d floor fits; over the defaults' 24h it would not.
  assert.equal(parseConfig(spec(`{min = "2d"}`)).Tasks.length, 1);
  assert.throws(
    () => parseConfig(spec(`{max = "1d"}`)),
    /^ConfigError: Tasks\[0\]\.Spec\.rules\.list\.recrawl\.max: task "shop": recrawl interval \(7d\)/,
  );
  assert.throws(
    () => parseConfig(spec(`{interval = "soon"}`)),
    /^ConfigError: Tasks\[0\]\.Spec\.rules\.list\.recrawl\.interval: task "shop": "soon" is not/,
  );
  assert.throws(
    () => parseConfig(spec(`{every = "1h"}`)),
    /^ConfigError: Tasks\[0\]\.Spec\.rules\.list\.recrawl: unknown key "every"/,
  );
});
