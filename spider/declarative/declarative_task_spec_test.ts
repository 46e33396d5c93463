import assert from "node:assert/strict";
import {
  declarativeTaskDefinition,
  declarativeTaskSpecSchema,
  isDeclarativeTaskSpec,
  withDeclarativeSpec,
} from "./declarative_task_spec.ts";
import { builtinTaskSpecSchema } from "../../proto/task_spec.ts";
import { buildTask } from "../task_definition.ts";
import { formatIssues } from "./_issues.ts";
import { DeclarativeRule } from "./declarative_rule.ts";

const taskSpecSchema = withDeclarativeSpec(builtinTaskSpecSchema);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function problems(spec: unknown): string | undefined {
  const result = taskSpecSchema.safeParse(spec);
  return result.success ? undefined : formatIssues(result.error);
}

const site = {
  url: "http://127.0.0.1:8080/",
  maxDepth: 10,
  rules: { page: { links: [{ rule: "page", sameHost: true }] } },
};

Deno.test("an API spec is a built-in rule name or a declarative rule set", () => {
  assert.deepEqual(taskSpecSchema.parse({ rule: "douban_book_list" }), {
    rule: "douban_book_list",
  });
  assert.deepEqual(taskSpecSchema.parse(site), site);
  assert.ok(isDeclarativeTaskSpec(site));
  assert.ok(!isDeclarativeTaskSpec({ rule: "douban_book_list" }));
});

Deno.test("a bad declarative API spec names the field, not just 'invalid input'", () => {
  assert.equal(
    problems({ ...site, rules: { page: { links: [{ regex: "(", rule: "page" }] } } }),
    'rules.page.links[0].regex: invalid regular expression "(": Invalid regular expression: /(/: Unterminated group',
  );
  assert.match(
    problems({ ...site, rules: { page: { links: [{ rule: "nope" }] } } })!,
    /^rules\.page\.links\[0\]\.rule: unknown rule "nope"/,
  );
  assert.match(problems({ ...site, waitTime: -1 })!, /^waitTime: /);
  assert.match(problems({ ...site, rule: "douban_book_list" })!, /Unrecognized key: "rule"/);
  assert.match(
    problems({ rules: site.rules })!,
    /^url: required: the spec has no absolute root or sitemap url/,
  );
  assert.equal(
    problems({ roots: [{ url: "http://127.0.0.1:8080/", rule: "page" }], rules: site.rules }),
    undefined,
  );
  // Sitemaps named by absolute URLs are sources enough; without urls they come from the task
  // URL's robots.txt, and a relative one resolves against the task URL.
  const sitemaps = (urls?: string[]) => ({ rules: site.rules, sitemaps: { rule: "page", urls } });
  assert.equal(problems(sitemaps(["http://127.0.0.1:8080/sitemap.xml"])), undefined);
  assert.match(problems(sitemaps())!, /^url: required/);
  assert.match(problems(sitemaps(["/sitemap.xml"]))!, /^url: required/);
  assert.match(
    problems({ ...sitemaps(["http://a.test/s.xml"]), roots: [{ rule: "page" }] })!,
    /^url: required/,
  );
  // The built-in form keeps its own errors.
  assert.match(problems({ rule: 3 })!, /^rule: /);
  assert.match(problems("douban")!, /^spec: expected an object/);
});

Deno.test("a declarative spec in a resource builds a task with its compiled rule set", () => {
  const spec = declarativeTaskSpecSchema.parse({
    ...site,
    waitTime: 0.5,
    reload: true,
    limits: [{ eventCount: 1, eventDur: 2, bucket: 1 }],
    parseTimeoutMs: 500,
  });
  const task = buildTask(declarativeTaskDefinition("site", spec), new Map());
  assert.equal(task.ruleSet.name, "site");
  assert.deepEqual(task.options, {
    name: "site",
    url: "http://127.0.0.1:8080/",
    cookie: undefined,
    waitTime: 0.5,
    reload: true,
    maxDepth: 10,
    limits: [{ eventCount: 1, eventDur: 2, bucket: 1 }],
  });
  const rule = task.ruleSet.rules.page;
  assert.ok(rule instanceof DeclarativeRule);
  assert.equal(rule.timeoutMs, 500);
  assert.deepEqual(task.ruleSet.root({ url: task.options.url }).map((r) => r.url), [
    "http://127.0.0.1:8080/",
  ]);
});

const shop = {
  url: "http://127.0.0.1:8080/",
  recrawl: { interval: "7d", min: "1d", max: "30d" },
  rules: {
    list: { links: [{ rule: "item" }], recrawl: { interval: "1d", min: "1h" } },
    item: { output: { fields: { name: { selector: "h2" } } } },
    news: { recrawl: { adaptive: false } },
  },
};

Deno.test("a spec's recrawl is the task's policy, and a rule's builds on it", () => {
  const spec = declarativeTaskSpecSchema.parse(shop);
  assert.deepEqual(spec.recrawl, shop.recrawl, "kept as written, for etcd and gRPC");
  const task = buildTask(declarativeTaskDefinition("shop", spec), new Map());
  assert.deepEqual(task.options.recrawl, {
    intervalMs: 7 * DAY,
    minMs: DAY,
    maxMs: 30 * DAY,
    adaptive: true,
  });
  assert.deepEqual(task.ruleSet.recrawl, {
    list: { intervalMs: DAY, minMs: HOUR, maxMs: 30 * DAY, adaptive: true },
    news: { intervalMs: 7 * DAY, minMs: DAY, maxMs: 30 * DAY, adaptive: false },
  });
});

Deno.test("a rule's recrawl alone makes its pages revisited, over the defaults", () => {
  const spec = declarativeTaskSpecSchema.parse({
    ...site,
    rules: { page: { ...site.rules.page, recrawl: { interval: "15m" } } },
  });
  const task = buildTask(declarativeTaskDefinition("site", spec), new Map());
  assert.equal(task.options.recrawl, undefined);
  assert.deepEqual(task.ruleSet.recrawl, {
    page: { intervalMs: 15 * 60_000, minMs: 15 * 60_000, maxMs: 14 * DAY, adaptive: true },
  });
  const plain = buildTask(
    declarativeTaskDefinition("site", declarativeTaskSpecSchema.parse(site)),
    new Map(),
  );
  assert.equal(plain.ruleSet.recrawl, undefined, "no recrawl anywhere: each page once");
});

Deno.test("bad recrawl values in a spec are rejected naming the key", () => {
  assert.match(
    problems({ ...site, recrawl: { interval: "1 day" } })!,
    /^recrawl\.interval: "1 day" is not a duration/,
  );
  assert.match(
    problems({ ...site, recrawl: { min: "2d", max: "1d" } })!,
    /^recrawl\.min: recrawl min \(2d\) is above max \(1d\)/,
  );
  assert.match(
    problems({ ...site, recrawl: { interval: "1h", min: "2h" } })!,
    /^recrawl\.interval: recrawl interval \(1h\) is outside min\.\.max \(2h\.\.14d\)/,
  );
  assert.match(
    problems({ ...site, recrawl: { every: "1h" } })!,
    /^recrawl: unknown key "every" \(recrawl keys: interval, min, max, adaptive\)/,
  );
  assert.match(problems({ ...site, recrawl: { adaptive: "yes" } })!, /^recrawl\.adaptive: /);
  // A rule's values are checked over the task's: a 2d floor fits a 7d interval, a 1d cap does not.
  const rule = (recrawl: unknown) => ({ ...shop, rules: { ...shop.rules, item: { recrawl } } });
  assert.equal(problems(rule({ min: "2d" })), undefined);
  assert.match(
    problems(rule({ max: "1d" }))!,
    /^rules\.item\.recrawl\.max: recrawl interval \(7d\) is outside min\.\.max \(1d\.\.1d\)/,
  );
  assert.match(problems(rule({ interval: -1 }))!, /^rules\.item\.recrawl\.interval: .*positive/);
  assert.match(problems(rule({ intervall: "1h" }))!, /^rules\.item\.recrawl: unknown key/);
  // Without a task policy, a rule's builds on the defaults.
  assert.match(
    problems({ ...site, rules: { page: { recrawl: { min: "2d" } } } })!,
    /^rules\.page\.recrawl\.min: recrawl interval \(1d\) is outside/,
  );
});

Deno.test("a built-in spec takes a task recrawl too, checked the same way", () => {
  const spec = taskSpecSchema.parse({ rule: "douban_book_list", recrawl: { interval: "6h" } });
  assert.deepEqual(spec, { rule: "douban_book_list", recrawl: { interval: "6h" } });
  assert.match(
    problems({ rule: "douban_book_list", recrawl: { max: "30m" } })!,
    /^recrawl\.max: recrawl min \(1h\) is above max \(30m\)/,
  );
  assert.match(
    problems({ rule: "douban_book_list", recrawl: { Interval: "6h" } })!,
    /^recrawl: unknown key "Interval"/,
  );
});
