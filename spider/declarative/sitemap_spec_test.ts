import assert from "node:assert/strict";
import { declarativeSpecSchema } from "./spec_schema.ts";
import { formatIssues } from "./_issues.ts";
import { declarativeTaskDefinition, declarativeTaskSpecSchema } from "./declarative_task_spec.ts";

function problems(spec: unknown): string | undefined {
  const result = declarativeSpecSchema.safeParse(spec);
  return result.success ? undefined : formatIssues(result.error);
}

const withSitemaps = (sitemaps: Record<string, unknown>) => ({
  rules: { page: { output: {} } },
  sitemaps,
});

Deno.test("a spec with sitemaps is valid and stays as written", () => {
  const spec = withSitemaps({
    urls: ["/sitemap.xml", "http://b.test/feed.rss"],
    rule: "page",
    match: "/p/\\d+$",
    lastmodSince: "2024-03-01",
    sameHost: false,
  });
  assert.equal(problems(spec), undefined);
  assert.deepEqual(declarativeSpecSchema.parse(spec), spec);
  assert.equal(problems(withSitemaps({ rule: "page" })), undefined);
});

Deno.test("a bad sitemaps field is rejected naming the key", () => {
  assert.match(
    problems(withSitemaps({ rule: "nope" }))!,
    /^sitemaps\.rule: unknown rule "nope" \(rules: "page"\)/,
  );
  assert.match(
    problems(withSitemaps({ rule: "page", match: "(" }))!,
    /^sitemaps\.match: invalid regular expression/,
  );
  assert.match(
    problems(withSitemaps({ rule: "page", lastmodSince: "last tuesday" }))!,
    /^sitemaps\.lastmodSince: expected an ISO date/,
  );
  assert.match(
    problems(withSitemaps({ rule: "page", urls: ["ftp://a.test/s.xml"] }))!,
    /^sitemaps\.urls\[0\]: expected an http\(s\) URL/,
  );
  assert.match(problems(withSitemaps({ rule: "page", urls: [] }))!, /^sitemaps\.urls: /);
  assert.match(problems(withSitemaps({ rule: "page", depth: 3 }))!, /^sitemaps: .*"depth"/);
  assert.match(
    problems({ rules: { page: {}, __sitemap: {} }, sitemaps: { rule: "page" } })!,
    /^rules\.__sitemap: rule names starting with __sitemap are the sitemap reader's/,
  );
});

Deno.test("an API spec with sitemaps becomes a task whose roots read them", () => {
  const spec = declarativeTaskSpecSchema.parse({
    url: "http://a.test/",
    rules: { page: { output: {} } },
    sitemaps: { rule: "page", urls: ["/news.xml"] },
  });
  const ruleSet = declarativeTaskDefinition("news", spec).ruleSet!;
  assert.deepEqual(Object.keys(ruleSet.rules).sort(), ["__sitemap", "__sitemap_robots", "page"]);
  assert.deepEqual(ruleSet.root({ url: "http://a.test/" }).map((r) => [r.url, r.ruleName]), [
    ["http://a.test/news.xml", "__sitemap"],
  ]);
  const bad = declarativeTaskSpecSchema.safeParse({ ...spec, sitemaps: { rule: "nope" } });
  assert.match(formatIssues(bad.error!), /^sitemaps\.rule: unknown rule "nope"/);
});
