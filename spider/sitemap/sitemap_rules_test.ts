import assert from "node:assert/strict";
import { compileRuleSet } from "../declarative/compile_rule_set.ts";
import { ParseContext } from "../parse_context.ts";
import { type CrawlRequest, toRequest } from "../../frontier/crawl_request.ts";
import type { ParseResult } from "../rule_set.ts";
import { MAX_SITEMAP_LEVEL, SITEMAP_ROBOTS_RULE, SITEMAP_RULE } from "./sitemap_rules.ts";
import { MAX_SITEMAP_BYTES } from "./sitemap_parser.ts";
import type { SitemapsSpec } from "../declarative/sitemap_spec.ts";

const encoder = new TextEncoder();

function ruleSet(sitemaps: SitemapsSpec) {
  return compileRuleSet("t", { rules: { page: { output: {} } }, sitemaps });
}

async function run(sitemaps: SitemapsSpec, req: CrawlRequest, body: string): Promise<ParseResult> {
  const rules = ruleSet(sitemaps).rules;
  const page = { body, raw: encoder.encode(body), contentType: "application/xml" };
  return await rules[req.ruleName].parse(new ParseContext("t", req, page));
}

const urlset = (entries: Array<[string, string?]>) =>
  `<urlset>${
    entries.map(([loc, lastmod]) =>
      `<url><loc>${loc}</loc>${lastmod ? `<lastmod>${lastmod}</lastmod>` : ""}</url>`
    ).join("")
  }</urlset>`;

Deno.test("without urls a task's sitemaps start from its host's robots.txt", async () => {
  const roots = ruleSet({ rule: "page" }).root({ url: "http://a.test/start" });
  assert.deepEqual(roots.map((r) => [r.url, r.ruleName]), [
    ["http://a.test/robots.txt", SITEMAP_ROBOTS_RULE],
  ]);
  const robots = toRequest({ ...roots[0] });
  const named = await run(
    { rule: "page" },
    robots,
    "User-agent: *\nDisallow: /x\nSitemap: http://a.test/one.xml\nsitemap:/two.xml\n",
  );
  assert.deepEqual(named.requests!.map((r) => [r.url, r.ruleName, r.depth, r.tmp]), [
    ["http://a.test/one.xml", SITEMAP_RULE, 0, { level: 0, host: "a.test" }],
    ["http://a.test/two.xml", SITEMAP_RULE, 0, { level: 0, host: "a.test" }],
  ]);
  const none = await run({ rule: "page" }, robots, "User-agent: *\nDisallow:\n");
  assert.deepEqual(none.requests!.map((r) => r.url), ["http://a.test/sitemap.xml"]);
});

Deno.test("given urls are the roots, resolved against the task's URL", () => {
  const roots = ruleSet({ rule: "page", urls: ["/s.xml", "http://b.test/f.rss"] })
    .root({ url: "http://a.test/" });
  assert.deepEqual(roots.map((r) => [r.url, r.tmp]), [
    ["http://a.test/s.xml", { level: 0, host: "a.test" }],
    ["http://b.test/f.rss", { level: 0, host: "b.test" }],
  ]);
});

Deno.test("a sitemap queues its pages at depth 0, filtered, with lastmod in tmp", async () => {
  const req = toRequest({ url: "http://a.test/s.xml", ruleName: SITEMAP_RULE, depth: 0 });
  const body = urlset([
    ["http://a.test/p/1", "2024-03-01"],
    ["http://a.test/p/2", "2024-02-01"],
    ["/p/3"],
    ["http://other.test/p/4", "2024-03-01"],
    ["http://a.test/skip/5", "2024-03-01"],
  ]);
  const spec: SitemapsSpec = { rule: "page", match: "/p/", lastmodSince: "2024-02-15" };
  const result = await run(spec, req, body);
  assert.deepEqual(result.requests!.map((r) => [r.url, r.ruleName, r.depth, r.tmp]), [
    ["http://a.test/p/1", "page", 0, { lastmod: Date.UTC(2024, 2, 1) }],
    ["http://a.test/p/3", "page", 0, undefined],
  ]);
  assert.deepEqual(result.sitemap, { files: 1, urls: 2 });
  const anyHost = await run({ rule: "page", sameHost: false }, req, body);
  assert.equal(anyHost.requests!.length, 5);
});

Deno.test("an index queues its sitemaps one level deeper, and refuses past level 10", async () => {
  const index = `<sitemapindex><sitemap><loc>http://a.test/s2.xml</loc></sitemap></sitemapindex>`;
  const at = (level: number) =>
    toRequest({
      url: "http://a.test/i.xml",
      ruleName: SITEMAP_RULE,
      tmp: { level, host: "a.test" },
    });
  const result = await run({ rule: "page" }, at(3), index);
  assert.deepEqual(result.requests!.map((r) => [r.url, r.ruleName, r.depth, r.tmp]), [
    ["http://a.test/s2.xml", SITEMAP_RULE, 0, { level: 4, host: "a.test" }],
  ]);
  await assert.rejects(
    Promise.resolve(run({ rule: "page" }, at(MAX_SITEMAP_LEVEL), index)),
    /sitemap index nested deeper than 10 levels: http:\/\/a\.test\/i\.xml/,
  );
});

Deno.test("a robots.txt that cannot be fetched stands for one naming no sitemap: /sitemap.xml is read", () => {
  const rules = ruleSet({ rule: "page" }).rules;
  const robots = toRequest({
    url: "http://a.test/robots.txt",
    ruleName: SITEMAP_ROBOTS_RULE,
    tmp: { host: "a.test" },
  });
  const instead = rules[SITEMAP_ROBOTS_RULE].recover!(robots, new Error("HTTP 404"));
  assert.deepEqual(instead!.requests!.map((r) => [r.url, r.ruleName, r.tmp]), [
    ["http://a.test/sitemap.xml", SITEMAP_RULE, { level: 0, host: "a.test" }],
  ]);
  // Both are data, fetched over HTTP; a sitemap file is read as it arrives, up to 50 MiB.
  assert.deepEqual(rules[SITEMAP_ROBOTS_RULE].fetch, { http: true });
  assert.deepEqual(rules[SITEMAP_RULE].fetch, {
    http: true,
    stream: true,
    maxBodyBytes: MAX_SITEMAP_BYTES,
  });
});
