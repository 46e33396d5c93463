/**
 * Which requests are rendered, from the config and spec down to the fetch: `Fetcher =
 * "browser"`, `"fetcher": "browser"`, a rule's `render`, and the `[browser]` section.
 */
import assert from "node:assert/strict";
import { parseConfig } from "../../config/load_config.ts";
import { taskDefinitionFromConfig } from "../../config/task_config.ts";
import { taskSpecSchema } from "../../proto/task_spec.ts";
import { taskDefinitionFromSpec } from "../../worker/task_resolver.ts";
import { compileRuleSet } from "../declarative/compile_rule_set.ts";
import { buildTask } from "../task_definition.ts";
import type { Fetcher, FetchRequest } from "../fetcher.ts";
import { cookiePairs } from "./browser_fetcher.ts";
import { FetcherSwitch } from "./fetcher_switch.ts";
import { fetcherKindOf, renderOf, taskRenders } from "./render_options.ts";

const RULES = {
  list: { links: [{ rule: "item" }] },
  item: {
    render: { waitFor: "h1.name", waitUntil: "load" as const },
    output: { fields: { name: { selector: "h1.name" } } },
  },
};

Deno.test('a rule\'s render applies to its own pages; Fetcher = "browser" renders every page', () => {
  const perRule = buildTask({
    name: "t",
    url: "http://127.0.0.1:1/",
    ruleSet: compileRuleSet("t", { rules: RULES }),
  }, new Map());
  assert.equal(renderOf(perRule, "list"), undefined, "fetched over HTTP");
  assert.deepEqual(renderOf(perRule, "item"), { waitFor: "h1.name", waitUntil: "load" });
  assert.equal(taskRenders(perRule), true);

  const config = parseConfig(`
[[Tasks]]
Name = "shop"
URL = "http://127.0.0.1:1/"
Fetcher = "Browser"
Spec = {rules = {list = {links = [{rule = "list"}]}}}
[[Tasks]]
Name = "plain"
URL = "http://127.0.0.1:1/"
Fetcher = "http"
Spec = {rules = {list = {links = [{rule = "list"}]}}}
`);
  const [browser, plain] = config.Tasks.map((t) =>
    buildTask(taskDefinitionFromConfig(t), new Map())
  );
  assert.equal(browser.options.fetcher, "browser");
  assert.deepEqual(renderOf(browser, "list"), {}, "the defaults: network idle, no selector");
  assert.equal(renderOf(plain, "list"), undefined);
  assert.equal(taskRenders(plain), false);
  assert.equal(fetcherKindOf(undefined), undefined);
  assert.equal(fetcherKindOf("BaseFetch"), "http", "the Go project's other values fetch over HTTP");
});

Deno.test('an API spec takes "fetcher" and a rule\'s "render", and refuses bad values naming them', () => {
  const spec = taskSpecSchema.parse({
    url: "http://127.0.0.1:1/",
    fetcher: "browser",
    rules: RULES,
  });
  const task = buildTask(taskDefinitionFromSpec("api", spec), new Map());
  assert.equal(task.options.fetcher, "browser");
  assert.deepEqual(renderOf(task, "item"), { waitFor: "h1.name", waitUntil: "load" });

  const builtin = taskSpecSchema.parse({ rule: "douban_book_list", fetcher: "browser" });
  assert.equal(taskDefinitionFromSpec("b", builtin).fetcher, "browser");

  const bad = (value: unknown) => {
    const result = taskSpecSchema.safeParse(value);
    assert.equal(result.success, false);
    return result.error!.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
  };
  assert.match(bad({ url: "http://x/", fetcher: "chrome", rules: RULES }), /^fetcher: /);
  assert.match(
    bad({ url: "http://x/", rules: { a: { render: { waitUntil: "networkidle0" } } } }),
    /^rules\.a\.render\.waitUntil: /,
  );
  assert.match(
    bad({ url: "http://x/", rules: { a: { render: { waitFor: "div[" } } } }),
    /^rules\.a\.render\.waitFor: /,
  );
  assert.match(
    bad({ url: "http://x/", rules: { a: { render: { wait: "load" } } } }),
    /^rules\.a\.render: /,
  );
});

Deno.test("a task whose pages are rendered still reads robots.txt and sitemaps over HTTP", () => {
  const task = buildTask({
    name: "t",
    url: "http://127.0.0.1:1/",
    fetcher: "browser",
    ruleSet: compileRuleSet("t", { rules: RULES, sitemaps: { rule: "item" } }),
  }, new Map());
  assert.deepEqual(renderOf(task, "list"), {});
  assert.equal(renderOf(task, "__sitemap_robots"), undefined);
  assert.equal(renderOf(task, "__sitemap"), undefined);
});

Deno.test("the [browser] section has the documented defaults and bounds", () => {
  const { browser } = parseConfig("");
  assert.deepEqual(browser, {
    maxPages: 4,
    retireAfterPages: 200,
    timeoutMs: 15_000,
    idleMs: 500,
    block: ["image", "media", "font"],
    allowThirdParty: false,
  });
  assert.throws(() => parseConfig("[browser]\nmaxPages = 0"), /browser\.maxPages/);
  assert.throws(() => parseConfig('[browser]\nblock = ["images"]'), /browser\.block\[0\]/);
  const set = parseConfig(
    '[browser]\nexecutablePath = "/opt/chromium"\nallowThirdParty = true\nblock = []',
  );
  assert.equal(set.browser.executablePath, "/opt/chromium");
  assert.equal(set.browser.allowThirdParty, true);
  assert.deepEqual(set.browser.block, []);
});

Deno.test("the switch sends requests with render to the browser, the others over HTTP", async () => {
  const seen: string[] = [];
  const fake = (name: string): Fetcher => ({
    fetch: (req: FetchRequest) => {
      seen.push(`${name} ${req.url}`);
      return Promise.resolve({
        url: req.url,
        status: 200,
        body: "",
        contentType: null,
        bytes: 0,
      });
    },
    close: () => void seen.push(`${name} closed`),
  });
  const fetcher = new FetcherSwitch(fake("http"), fake("browser"));
  await fetcher.fetch({ url: "http://a/1", method: "GET" });
  await fetcher.fetch({ url: "http://a/2", method: "GET", render: {} });
  fetcher.close();
  assert.deepEqual(seen, [
    "http http://a/1",
    "browser http://a/2",
    "http closed",
    "browser closed",
  ]);
});

Deno.test("a task's Cookie becomes name/value pairs; pieces without a name are dropped", () => {
  assert.deepEqual(cookiePairs("a=1; b = two ;c=x=y; =nameless; flag"), [
    ["a", "1"],
    ["b", "two"],
    ["c", "x=y"],
  ]);
  assert.deepEqual(cookiePairs(""), []);
});
