import assert from "node:assert/strict";
import { MAX_CRAWL_DELAY_MS, RobotsRules } from "./robots_rules.ts";

const origin = "http://site.test:80";
const url = (path: string) => `http://site.test${path}`;

Deno.test("robots: our token's group applies, not the * group", () => {
  const rules = RobotsRules.parse(
    origin,
    "User-agent: *\nDisallow: /\n\nUser-agent: Crawler\nDisallow: /private\n",
  );
  assert.equal(rules.isAllowed(url("/public"), "crawler"), true);
  assert.equal(rules.isAllowed(url("/private/x"), "crawler"), false);
  assert.equal(rules.isAllowed(url("/public"), "otherbot"), false);
});

Deno.test("robots: an agent without a group of its own follows *", () => {
  const rules = RobotsRules.parse(origin, "User-agent: *\nDisallow: /p\n");
  assert.equal(rules.isAllowed(url("/p/1"), "crawler"), false);
  assert.equal(rules.isAllowed(url("/q"), "crawler"), true);
});

Deno.test("robots: groups of the same agent are merged", () => {
  const rules = RobotsRules.parse(
    origin,
    "User-agent: crawler\nDisallow: /a\n\nUser-agent: other\nDisallow: /\n\nUser-agent: crawler\nDisallow: /b\n",
  );
  assert.equal(rules.isAllowed(url("/a"), "crawler"), false);
  assert.equal(rules.isAllowed(url("/b"), "crawler"), false);
  assert.equal(rules.isAllowed(url("/c"), "crawler"), true);
});

Deno.test("robots: the longest match wins, whatever the order", () => {
  const rules = RobotsRules.parse(
    origin,
    "User-agent: *\nAllow: /shop/open\nDisallow: /shop\nDisallow: /docs/x\nAllow: /docs\n",
  );
  assert.equal(rules.isAllowed(url("/shop/open/1"), "crawler"), true);
  assert.equal(rules.isAllowed(url("/shop/closed"), "crawler"), false);
  assert.equal(rules.isAllowed(url("/docs/x1"), "crawler"), false);
  assert.equal(rules.isAllowed(url("/docs/y"), "crawler"), true);
});

Deno.test("robots: allow wins a tie of equal length", () => {
  const rules = RobotsRules.parse(origin, "User-agent: *\nDisallow: /page\nAllow: /page\n");
  assert.equal(rules.isAllowed(url("/page"), "crawler"), true);
});

Deno.test("robots: wildcards and end anchors match as RFC 9309 says", () => {
  const rules = RobotsRules.parse(origin, "User-agent: *\nDisallow: /*.pdf$\nDisallow: /tmp*/x\n");
  assert.equal(rules.isAllowed(url("/a/b.pdf"), "crawler"), false);
  assert.equal(rules.isAllowed(url("/a/b.pdf?x=1"), "crawler"), true);
  assert.equal(rules.isAllowed(url("/tmp123/x"), "crawler"), false);
});

Deno.test("robots: the query string is part of the matched path", () => {
  const rules = RobotsRules.parse(origin, "User-agent: *\nDisallow: /search?q=\n");
  assert.equal(rules.isAllowed(url("/search?q=cats"), "crawler"), false);
  assert.equal(rules.isAllowed(url("/search"), "crawler"), true);
});

Deno.test("robots: user-agent lines, directives and a BOM are read without regard to case", () => {
  const rules = RobotsRules.parse(
    origin,
    "\uFEFFUSER-AGENT: CRAWLER\r\nDISALLOW: /x # comment\r\n",
  );
  assert.equal(rules.isAllowed(url("/x"), "crawler"), false);
  assert.equal(rules.isAllowed(url("/y"), "crawler"), true);
});

Deno.test("robots: /robots.txt itself is always allowed", () => {
  const rules = RobotsRules.parse(origin, "User-agent: *\nDisallow: /\n");
  assert.equal(rules.isAllowed(url("/robots.txt"), "crawler"), true);
  assert.equal(rules.isAllowed(url("/"), "crawler"), false);
});

Deno.test("robots: a page that is not robots.txt allows everything", () => {
  const rules = RobotsRules.parse(origin, "<html><body>Not found</body></html>");
  assert.equal(rules.isAllowed(url("/anything"), "crawler"), true);
});

Deno.test("robots: allow-all and disallow-all outcomes", () => {
  assert.equal(RobotsRules.allowAll().isAllowed(url("/x"), "crawler"), true);
  assert.equal(RobotsRules.disallowAll().isAllowed(url("/x"), "crawler"), false);
  assert.equal(RobotsRules.from("disallow-all", origin, "").isAllowed(url("/"), "c"), false);
});

Deno.test("robots: crawl-delay of our group, else *, in ms and capped at 30 s", () => {
  const rules = RobotsRules.parse(
    origin,
    "User-agent: *\nCrawl-delay: 1\n\nUser-agent: slow\nCrawl-delay: 3600\n\nUser-agent: half\nCrawl-delay: 0.5\n",
  );
  assert.equal(rules.crawlDelayMs("crawler"), 1000);
  assert.equal(rules.crawlDelayMs("slow"), MAX_CRAWL_DELAY_MS);
  assert.equal(rules.crawlDelayMs("half"), 500);
  assert.equal(RobotsRules.parse(origin, "User-agent: *\nCrawl-delay: -3\n").crawlDelayMs("c"), 0);
  assert.equal(RobotsRules.allowAll().crawlDelayMs("crawler"), 0);
});

Deno.test("robots: a URL of another host is a caller's mistake", () => {
  const rules = RobotsRules.parse(origin, "User-agent: *\nDisallow: /\n");
  assert.throws(() => rules.isAllowed("http://other.test/", "crawler"), RangeError);
});
