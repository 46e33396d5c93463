import assert from "node:assert/strict";
import { compileRuleSet } from "./compile_rule_set.ts";
import type { DeclarativeSpec } from "./spec_schema.ts";
import { ParseContext } from "../parse_context.ts";
import type { CrawlRequest } from "../../frontier/crawl_request.ts";
import type { ParseResult } from "../rule_set.ts";
import { DEFAULT_RECRAWL, recrawlPolicy } from "../recrawl.ts";
import { DeclarativeRule } from "./declarative_rule.ts";

const PAGE_URL = "http://site.test/list/1.html";

const BODY = `<html><head><title>Books &amp; more</title></head><body>
<nav><a href="/list/2.html">next</a> <a href="/list/2.html#again">next again</a>
<a href="http://other.test/x">elsewhere</a> <a href="about.html">about</a>
<a href="mailto:me@site.test">mail</a></nav>
<ul class="books">
  <li class="book" data-id="7"><a class="title" href="/book/7">  The   Seven  </a><span class="price">¥ 12.50</span></li>
  <li class="book" data-id="8"><a class="title" href="/book/8">Eight</a></li>
</ul>
<script>var next = { "url": "/list/3.html" };</script>
<div id="stats">views: 1234</div>
</body></html>`;

function parse(spec: DeclarativeSpec, rule: string, options: { body?: string; url?: string } = {}) {
  const ruleSet = compileRuleSet("books", spec);
  const req: CrawlRequest = {
    url: options.url ?? PAGE_URL,
    method: "GET",
    depth: 2,
    priority: 0,
    ruleName: rule,
    attempt: 0,
  };
  const ctx = new ParseContext("books", req, options.body ?? BODY);
  const result = ruleSet.rules[rule].parse(ctx) as ParseResult;
  return { ctx, ruleSet, result, urls: (result.requests ?? []).map((r) => r.url) };
}

Deno.test("default links follow every a[href] once, resolved, without building a DOM", () => {
  const { ctx, result, urls } = parse({ rules: { list: { links: [{ rule: "list" }] } } }, "list");
  assert.deepEqual(urls, [
    "http://site.test/list/2.html",
    "http://other.test/x",
    "http://site.test/list/about.html",
    "http://site.test/book/7",
    "http://site.test/book/8",
  ]);
  const first = result.requests![0];
  assert.deepEqual(
    {
      depth: first.depth,
      ruleName: first.ruleName,
      method: first.method,
      priority: first.priority,
    },
    { depth: 3, ruleName: "list", method: "GET", priority: 0 },
  );
  assert.equal(ctx.hasDocument, false);
});

Deno.test("links by selector read the attribute asked for, with the rule and priority given", () => {
  const { ctx, result } = parse({
    rules: {
      list: { links: [{ selector: "li.book a.title", rule: "book", priority: 2 }] },
      book: {},
    },
  }, "list");
  assert.deepEqual(
    result.requests!.map((r) => [r.url, r.ruleName, r.priority]),
    [["http://site.test/book/7", "book", 2], ["http://site.test/book/8", "book", 2]],
  );
  // A selector of the streaming subset reads the page without a DOM.
  assert.equal(ctx.hasDocument, false);

  const byAttr = parse({
    rules: { list: { links: [{ selector: "li.book", attr: "data-id", rule: "list" }] } },
  }, "list");
  assert.deepEqual(byAttr.urls, ["http://site.test/list/7", "http://site.test/list/8"]);
});

Deno.test("links by regular expression take group 1, and never build a DOM", () => {
  const { ctx, urls } = parse({
    rules: { list: { links: [{ regex: '"url": "([^"]+)"', rule: "list" }] } },
  }, "list");
  assert.deepEqual(urls, ["http://site.test/list/3.html"]);
  assert.equal(ctx.hasDocument, false);
});

Deno.test("sameHost keeps only links to the page's host", () => {
  const { urls } = parse(
    { rules: { list: { links: [{ rule: "list", sameHost: true }] } } },
    "list",
  );
  assert.ok(urls.length > 0);
  assert.ok(urls.every((u) => u.startsWith("http://site.test/")), urls.join(" "));
  assert.ok(!urls.includes("http://other.test/x"));
});

Deno.test("match keeps only links whose absolute URL matches", () => {
  const { urls } = parse({
    rules: {
      list: {
        links: [{ rule: "list", match: "/list/\\d+\\.html$" }, {
          rule: "book",
          match: "^http://site\\.test/book/",
        }],
      },
      book: {},
    },
  }, "list");
  assert.deepEqual(urls, [
    "http://site.test/list/2.html",
    "http://site.test/book/7",
    "http://site.test/book/8",
  ]);
});

Deno.test("fields read text (whitespace collapsed), attributes and regular expressions", () => {
  const spec: DeclarativeSpec = {
    rules: {
      page: {
        output: {
          fields: {
            title: { regex: "<title>([^<]*)</title>" },
            first: { selector: "li.book a.title" },
            link: { selector: "li.book a.title", attr: "href" },
            price: { selector: ".price", regex: "([\\d.]+)" },
            views: { regex: "views: (\\d+)" },
            missing: { selector: "table td" },
          },
        },
      },
    },
  };
  const { result, ruleSet } = parse(spec, "page");
  assert.deepEqual(ruleSet.rules.page.itemFields, [
    "title",
    "first",
    "link",
    "price",
    "views",
    "missing",
  ]);
  assert.equal(result.items!.length, 1, "one item per page");
  const item = result.items![0];
  assert.deepEqual(item.data, {
    title: "Books &amp; more",
    first: "The Seven",
    link: "/book/7",
    price: "12.50",
    views: "1234",
    missing: null,
  });
  assert.deepEqual([item.task, item.rule, item.url], ["books", "page", PAGE_URL]);
});

Deno.test("an each selector outputs one item per element, fields read inside it", () => {
  const { result, ctx } = parse({
    rules: {
      page: {
        output: {
          each: "li.book",
          fields: {
            bookId: { attr: "data-id" },
            title: { selector: "a.title" },
            price: { selector: ".price" },
            html: { regex: 'href="([^"]+)"' },
            text: {},
          },
        },
      },
    },
  }, "page");
  assert.deepEqual(result.items!.map((i) => i.data), [
    {
      bookId: "7",
      title: "The Seven",
      price: "¥ 12.50",
      html: "/book/7",
      text: "The Seven ¥ 12.50",
    },
    { bookId: "8", title: "Eight", price: null, html: "/book/8", text: "Eight" },
  ]);
  assert.equal(ctx.hasDocument, true);
});

Deno.test("pageMatches outputs the page URL only when the body matches (OutputJS)", () => {
  const spec: DeclarativeSpec = { rules: { topic: { output: { pageMatches: "views: \\d+" } } } };
  const hit = parse(spec, "topic");
  assert.deepEqual(hit.result.items!.map((i) => [i.url, i.data]), [[PAGE_URL, {}]]);
  assert.equal(hit.ctx.hasDocument, false);
  assert.deepEqual(parse(spec, "topic", { body: "<p>nothing</p>" }).result.items, []);
  assert.deepEqual(hit.ruleSet.rules.topic.itemFields, []);
});

Deno.test("urlMatches outputs only for pages whose URL matches", () => {
  const spec: DeclarativeSpec = {
    rules: {
      page: {
        output: { urlMatches: "/book/\\d+$", fields: { t: { regex: "<title>(.*)</title>" } } },
      },
    },
  };
  assert.equal(parse(spec, "page").result.items!.length, 0);
  assert.equal(parse(spec, "page", { url: "http://site.test/book/7" }).result.items!.length, 1);
});

Deno.test("a rule with a selector outside the subset builds the page's DOM once for all", () => {
  const spec: DeclarativeSpec = {
    rules: {
      page: {
        links: [{ selector: "nav a", rule: "page" }, { selector: "li + li a", rule: "page" }],
        output: { each: "li", fields: { a: { selector: "a" }, b: { selector: "span" } } },
      },
    },
  };
  const ruleSet = compileRuleSet("x", spec);
  const req: CrawlRequest = {
    url: PAGE_URL,
    method: "GET",
    depth: 0,
    priority: 0,
    ruleName: "page",
    attempt: 0,
  };
  const ctx = new ParseContext("x", req, BODY);
  let built = 0;
  const document = ctx.document.bind(ctx);
  ctx.document = () => {
    if (!ctx.hasDocument) built++;
    return document();
  };
  const result = ruleSet.rules.page.parse(ctx) as ParseResult;
  assert.equal(built, 1);
  assert.deepEqual(result.requests!.map((r) => r.url), [
    "http://site.test/list/2.html",
    "http://other.test/x",
    "http://site.test/list/about.html",
    "http://site.test/book/8",
  ]);
  assert.deepEqual(ruleSet.parsePaths, {
    page: {
      path: "dom",
      reason: 'links[1].selector "li + li a": the + combinator is not supported',
    },
  });
});

Deno.test("subset selectors read links, fields and each items in one pass without a DOM", () => {
  const spec: DeclarativeSpec = {
    rules: {
      list: {
        links: [{ selector: "li.book a.title", rule: "book" }],
        output: {
          each: "li.book",
          fields: {
            title: { selector: "a.title" },
            href: { selector: "a", attr: "href" },
            dataId: { attr: "data-id" },
            price: { selector: ".price", regex: "([0-9.]+)" },
            whole: {},
          },
        },
      },
      book: { output: { fields: { t: { selector: "title" }, stats: { selector: "#stats" } } } },
      plain: {
        links: [{ rule: "plain" }],
        output: { fields: { t: { regex: "<title>(.*)</title>" } } },
      },
    },
  };
  const list = parse(spec, "list");
  assert.equal(list.ctx.hasDocument, false);
  assert.deepEqual(list.urls, ["http://site.test/book/7", "http://site.test/book/8"]);
  assert.deepEqual(list.result.items!.map((i) => i.data), [
    {
      title: "The Seven",
      href: "/book/7",
      dataId: "7",
      price: "12.50",
      whole: "The Seven ¥ 12.50",
    },
    { title: "Eight", href: "/book/8", dataId: "8", price: null, whole: "Eight" },
  ]);
  const book = parse(spec, "book");
  assert.equal(book.ctx.hasDocument, false);
  assert.deepEqual(book.result.items!.map((i) => i.data), [
    { t: "Books & more", stats: "views: 1234" },
  ]);
  assert.deepEqual(list.ruleSet.parsePaths, {
    list: { path: "stream" },
    book: { path: "stream" },
    plain: { path: "scan" },
  });
});

Deno.test("roots start from the task URL; relative root URLs resolve against it", () => {
  const single = compileRuleSet("x", { rules: { first: {}, second: {} } });
  assert.deepEqual(single.root({ url: "http://site.test/start" }), [
    { url: "http://site.test/start", ruleName: "first", priority: 0, method: "GET" },
  ]);
  assert.equal(single.defaults.url, "");
  const explicit = compileRuleSet("x", {
    roots: [{ url: "/tags", rule: "second", priority: 1 }, {
      url: "https://cdn.test/a",
      rule: "first",
    }],
    rules: { first: {}, second: {} },
  });
  assert.deepEqual(
    explicit.root({ url: "http://site.test/start" }).map((r) => [r.url, r.ruleName, r.priority]),
    [
      ["http://site.test/tags", "second", 1],
      ["https://cdn.test/a", "first", 0],
    ],
  );
  const absolute = compileRuleSet("x", {
    roots: [{ url: "http://a.test/", rule: "first" }],
    rules: { first: {} },
  });
  assert.equal(absolute.defaults.url, "http://a.test/");
});

Deno.test("compiling a spec that is not valid throws naming the key", () => {
  assert.throws(
    () => compileRuleSet("x", { rules: { p: { links: [{ regex: "(", rule: "p" }] } } }),
    /invalid declarative spec for "x": rules\.p\.links\[0\]\.regex: invalid regular expression/,
  );
});

Deno.test("a rule's recrawl is its policy over the task's, and not part of the fingerprint", () => {
  const rules = {
    list: { links: [{ rule: "item" }] },
    item: { output: { fields: { name: { selector: "h2" } } } },
  };
  const once = compileRuleSet("shop", { rules });
  const daily = compileRuleSet("shop", {
    rules: { ...rules, list: { ...rules.list, recrawl: { interval: "1d" } } },
  });
  const hourly = compileRuleSet("shop", {
    rules: { ...rules, list: { ...rules.list, recrawl: { interval: "1h", adaptive: false } } },
  }, { recrawl: recrawlPolicy({ interval: "7d" }) });
  assert.equal(once.recrawl, undefined);
  assert.deepEqual(daily.recrawl, { list: { ...DEFAULT_RECRAWL } });
  assert.deepEqual(hourly.recrawl, {
    list: { intervalMs: 3_600_000, minMs: 3_600_000, maxMs: 14 * 86_400_000, adaptive: false },
  });
  // A new interval is no reason to start the crawl over, nor to compile the rules again.
  assert.equal(daily.fingerprint, once.fingerprint);
  assert.equal(hourly.fingerprint, once.fingerprint);
  assert.equal(
    (daily.rules.list as DeclarativeRule).spec,
    (once.rules.list as DeclarativeRule).spec,
  );
  assert.doesNotMatch(daily.fingerprint!, /recrawl/);
  // Other changes to a rule still tell.
  const changed = compileRuleSet("shop", {
    rules: { ...rules, list: { links: [{ rule: "item", sameHost: true }] } },
  });
  assert.notEqual(changed.fingerprint, once.fingerprint);
});

Deno.test("compiling a rule's recrawl that does not fit the task's throws naming the rule", () => {
  assert.throws(
    () =>
      compileRuleSet("x", { rules: { p: { recrawl: { max: "1h" } } } }, {
        recrawl: recrawlPolicy({ interval: "7d" }),
      }),
    /invalid declarative spec for "x": rules\.p\.recrawl: recrawl interval \(7d\) is outside/,
  );
});
