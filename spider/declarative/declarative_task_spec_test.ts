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
