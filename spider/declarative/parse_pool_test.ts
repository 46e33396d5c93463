import assert from "node:assert/strict";
import { ParsePool, ParseTimeoutError } from "./parse_pool.ts";
import { compileRuleSet } from "./compile_rule_set.ts";
import type { DeclarativeSpec } from "./spec_schema.ts";
import { ParseContext } from "../parse_context.ts";
import type { CrawlRequest } from "../../frontier/crawl_request.ts";
import type { ParseResult, RuleSet } from "../rule_set.ts";
import { Crawler, type ItemSink } from "../crawler.ts";
import type { Fetcher, FetchRequest, FetchResponse } from "../fetcher.ts";
import type { Item } from "../item.ts";
import { MultiLimiter } from "../rate_limiter.ts";
import { buildTask } from "../task_definition.ts";
import type { ParseRun } from "./parse_pool.ts";
import { silentLogger } from "../../log/logger.ts";

/**
 * Catastrophic backtracking: `(a+)+$` on "aaaa…b" takes 2^n steps, here 2^26: seconds, far past
 * the pools' 200-300 ms timeouts, yet finite. A terminated worker's regexp runs on to its end
 * (V8 does not interrupt it), so an endless one would burn a core for the rest of the test run.
 */
const RUNAWAY = "(a+)+$";
const RUNAWAY_PAGE = "a".repeat(26) + "b";
/** 2^28 steps (~3.5 s here, 1 s for 2^26): past a 1 s timeout with room on a fast machine. */
const LONG_RUNAWAY_PAGE = "a".repeat(28) + "b";

function context(body: string, rule: string, options: { url?: string; depth?: number } = {}) {
  const req: CrawlRequest = {
    url: options.url ?? "http://site.test/list",
    method: "GET",
    depth: options.depth ?? 0,
    priority: 0,
    ruleName: rule,
    attempt: 0,
  };
  return new ParseContext("t", req, body);
}

/** A result without item times, which differ between two runs. */
function comparable(result: ParseResult) {
  return { requests: result.requests, items: result.items?.map(({ time: _, ...rest }) => rest) };
}

const booksSpec: DeclarativeSpec = {
  rules: {
    list: {
      links: [{ rule: "list", sameHost: true }, { regex: 'data-more="([^"]+)"', rule: "list" }],
      output: {
        each: "li",
        fields: {
          title: { selector: "b" },
          href: { selector: "a", attr: "href" },
          n: { regex: "#(\\d+)" },
        },
      },
    },
    slow: { output: { fields: { stuck: { regex: RUNAWAY } } } },
  },
};
const BOOKS =
  `<ul><li><b>One</b> <a href="/b/1">#1</a></li><li><b>Two</b> <a href="http://x.test/b/2">#2</a></li></ul>
<div data-more="/list?page=2"></div>`;

Deno.test("a declarative rule parses the same in a worker as on the main thread", async () => {
  using pool = new ParsePool({ workers: 1 });
  const ruleSet = compileRuleSet("books", booksSpec);
  const inWorker = await pool.parse(ruleSet.rules.list, context(BOOKS, "list"));
  const here = ruleSet.rules.list.parse(context(BOOKS, "list")) as ParseResult;
  assert.deepEqual(comparable(inWorker), comparable(here));
  assert.deepEqual(inWorker.requests!.map((r) => r.url), [
    "http://site.test/b/1",
    "http://site.test/list?page=2",
  ]);
  assert.equal(inWorker.items!.length, 2);
  assert.equal(pool.workers, 1);
});

Deno.test("a rule that runs too long is stopped, and the next page parses in a fresh worker", async () => {
  using pool = new ParsePool({ workers: 1, timeoutMs: 300 });
  const ruleSet = compileRuleSet("books", { ...booksSpec, parseTimeoutMs: 30_000 });
  const started = performance.now();
  await assert.rejects(
    pool.parse(compileRuleSet("books", booksSpec).rules.slow, context(RUNAWAY_PAGE, "slow")),
    (error) => {
      assert.ok(error instanceof ParseTimeoutError);
      assert.match(
        error.message,
        /rule "slow" ran longer than 300 ms on http:\/\/site\.test\/list/,
      );
      return true;
    },
  );
  assert.ok(performance.now() - started < 5000);
  const next = await pool.parse(ruleSet.rules.list, context(BOOKS, "list"));
  assert.equal(next.items!.length, 2);
});

Deno.test("pages queued behind a runaway rule go to another worker, not to failure", async () => {
  // The good pages get the pool's generous limit, so a loaded machine cannot fail them.
  using pool = new ParsePool({ workers: 1, timeoutMs: 30_000 });
  const ruleSet = compileRuleSet("books", booksSpec);
  const strict = compileRuleSet("strict", { ...booksSpec, parseTimeoutMs: 300 });
  // Sent together: the worker has the runaway page first and the good ones queued behind it.
  const slow = pool.parse(strict.rules.slow, context(RUNAWAY_PAGE, "slow"));
  const good = [1, 2, 3].map(() => pool.parse(ruleSet.rules.list, context(BOOKS, "list")));
  await assert.rejects(slow, ParseTimeoutError);
  for (const result of await Promise.all(good)) assert.equal(result.items!.length, 2);
});

/** A fetched page whose bytes are still undecoded (as `HttpFetcher` returns it). */
function undecoded(body: string, rule: string, url = "http://site.test/list") {
  const raw = new TextEncoder().encode(body);
  const req: CrawlRequest = {
    url,
    method: "GET",
    depth: 0,
    priority: 0,
    ruleName: rule,
    attempt: 0,
  };
  return new ParseContext("t", req, {
    raw,
    contentType: "text/html; charset=utf-8",
    get body() {
      return new TextDecoder().decode(raw);
    },
  });
}

Deno.test("page bytes move to the worker; pages it never reached are fetched again", async () => {
  using pool = new ParsePool({ workers: 1, timeoutMs: 30_000 });
  const ruleSet = compileRuleSet("books", booksSpec);
  const strict = compileRuleSet("strict", { ...booksSpec, parseTimeoutMs: 300 });
  const refetched: string[] = [];
  const run: ParseRun = {
    task: buildTask({ name: "books", url: "http://site.test/", ruleSet }, new Map()),
    done: new Promise<never>(() => {}),
    signal: new AbortController().signal,
    retry: (req) => void refetched.push(req.url),
  };
  const trap = undecoded(RUNAWAY_PAGE, "slow", "http://site.test/trap");
  const slow = pool.parse(strict.rules.slow, trap, { run });
  const behind = [1, 2, 3].map((i) =>
    pool.parse(ruleSet.rules.list, undecoded(BOOKS, "list", `http://site.test/${i}`), { run })
  );
  await assert.rejects(slow, ParseTimeoutError);
  // Sent together to the one worker: their bytes left this thread with them.
  assert.equal(trap.undecoded()!.raw.byteLength, 0, "moved, not copied");
  const results = await Promise.all(behind);
  assert.deepEqual(results.map((r) => r.requests?.length ?? 0), [0, 0, 0]);
  assert.deepEqual(refetched.sort(), [
    "http://site.test/1",
    "http://site.test/2",
    "http://site.test/3",
  ]);
  // Without a run to fetch them again, such pages fail, saying why.
  const lone = pool.parse(strict.rules.slow, undecoded(RUNAWAY_PAGE, "slow"));
  const lost = pool.parse(ruleSet.rules.list, undecoded(BOOKS, "list"));
  await assert.rejects(lone, ParseTimeoutError);
  await assert.rejects(lost, /stopped before it reached http:\/\/site.test\/list/);
  // The next page parses in a fresh worker.
  const next = await pool.parse(ruleSet.rules.list, undecoded(BOOKS, "list"), { run });
  assert.equal(next.items!.length, 2);
});

Deno.test("the rule set's parseTimeoutMs overrides the pool's", async () => {
  using pool = new ParsePool({ workers: 1, timeoutMs: 60_000 });
  const ruleSet = compileRuleSet("s", { ...booksSpec, parseTimeoutMs: 200 });
  await assert.rejects(pool.parse(ruleSet.rules.slow, context(RUNAWAY_PAGE, "slow")), /200 ms/);
});

Deno.test("a crawl goes on past a page whose rule runs too long; that page counts as failed", async () => {
  const pages: Record<string, string> = {
    "/": '<a href="/a">a</a><a href="/trap">trap</a><a href="/b">b</a>',
    "/a": '<title>A</title><a href="/c">c</a>',
    "/trap": `<title>${LONG_RUNAWAY_PAGE}</title>`,
    "/b": "<title>B</title>",
    "/c": "<title>C</title>",
  };
  const fetcher: Fetcher = {
    fetch(req: FetchRequest): Promise<FetchResponse> {
      const body = pages[new URL(req.url).pathname] ?? "";
      return Promise.resolve({
        url: req.url,
        status: 200,
        body,
        contentType: "text/html",
        bytes: body.length,
      });
    },
  };
  const items: Item[] = [];
  const sink: ItemSink = { save: (item) => void items.push(item), flush: () => Promise.resolve() };
  using pool = new ParsePool({ workers: 1, timeoutMs: 1000 });
  const crawler = new Crawler({
    fetcher,
    sink,
    logger: silentLogger,
    concurrency: 2,
    createLimiter: (limits) => MultiLimiter.fromSpecs(limits),
    randomWait: () => Promise.resolve(),
    parseRule: (rule, ctx, run) => pool.parse(rule, ctx, { run }),
  });
  const ruleSet = compileRuleSet("site", {
    rules: {
      page: {
        links: [{ rule: "page" }],
        output: { fields: { title: { regex: "<title>(?:(a+)+$|([A-Z]))" } } },
      },
    },
  });
  const run = crawler.start(
    buildTask({ name: "site", url: "http://site.test/", ruleSet }, new Map()),
  );
  assert.equal(await run.done, "finished");
  await crawler.close();
  assert.equal(run.stats.fetched, 5);
  assert.equal(run.stats.failed, 1, "the trap page");
  assert.deepEqual(items.map((i) => new URL(i.url).pathname).sort(), ["/", "/a", "/b", "/c"]);
});

Deno.test("aborting a parse rejects it with the signal's reason", async () => {
  using pool = new ParsePool({ workers: 1, timeoutMs: 2000 });
  const ruleSet = compileRuleSet("books", booksSpec);
  const controller = new AbortController();
  const parsing = pool.parse(ruleSet.rules.slow, context(RUNAWAY_PAGE, "slow"), {
    signal: controller.signal,
  });
  controller.abort(new Error("task stopped"));
  await assert.rejects(parsing, /task stopped/);
  await assert.rejects(
    pool.parse(ruleSet.rules.list, context(BOOKS, "list"), { signal: controller.signal }),
    /task stopped/,
  );
});

Deno.test("closing the pool rejects what is pending and ends its workers", async () => {
  const pool = new ParsePool({ workers: 1, timeoutMs: 60_000 });
  const ruleSet = compileRuleSet("books", booksSpec);
  const parsing = pool.parse(ruleSet.rules.slow, context(RUNAWAY_PAGE, "slow"));
  pool.close();
  await assert.rejects(parsing, /parse pool closed/);
  await assert.rejects(pool.parse(ruleSet.rules.list, context(BOOKS, "list")), /parse pool closed/);
  assert.equal(pool.workers, 0);
});

Deno.test("when workers cannot start, rules parse on the main thread", async () => {
  // Deno prints each failed worker's error (three of them) before the pool gives up on workers.
  const logged: string[] = [];
  const logger = { ...silentLogger, error: (message: string) => void logged.push(message) };
  using pool = new ParsePool({
    workers: 1,
    workerUrl: "data:application/javascript,throw new Error('cannot load')",
    logger,
  });
  const ruleSet = compileRuleSet("books", booksSpec);
  const results = await Promise.all(
    [1, 2, 3, 4].map(() => pool.parse(ruleSet.rules.list, context(BOOKS, "list"))),
  );
  for (const result of results) assert.equal(result.items!.length, 2);
  assert.match(logged.join("\n"), /parse workers cannot start/);
});

Deno.test("rules that are functions run on the main thread", async () => {
  using pool = new ParsePool({ workers: 1 });
  const ruleSet: RuleSet = {
    name: "fn",
    defaults: { url: "http://site.test/" },
    root: () => [],
    rules: { page: { parse: (ctx) => ({ items: [ctx.output({ length: ctx.body.length })] }) } },
  };
  const result = await pool.parse(ruleSet.rules.page, context("12345", "page"));
  assert.equal(result.items![0].data.length, 5);
  assert.equal(pool.workers, 0, "no worker started");
});

Deno.test("for a task run, links it already has and links too deep are not sent back", async () => {
  using pool = new ParsePool({ workers: 1 });
  const ruleSet = compileRuleSet("site", { rules: { page: { links: [{ rule: "page" }] } } });
  let end!: () => void;
  const run: ParseRun = {
    task: buildTask({ name: "site", url: "http://site.test/", maxDepth: 3, ruleSet }, new Map()),
    done: new Promise((resolve) => end = () => resolve("finished")),
    signal: new AbortController().signal,
    retry: () => assert.fail("nothing is fetched again"),
  };
  const page = (links: string[], depth = 0) =>
    pool.parse(
      ruleSet.rules.page,
      context(links.map((l) => `<a href="${l}">x</a>`).join(""), "page", { depth }),
      {
        run,
      },
    );
  const urls = (result: ParseResult) => result.requests!.map((r) => r.url);
  assert.deepEqual(urls(await page(["/a", "/b", "/a"])), [
    "http://site.test/a",
    "http://site.test/b",
  ]);
  assert.deepEqual(urls(await page(["/b", "http://site.test/c", "/a", "/c"])), [
    "http://site.test/c",
  ]);
  assert.deepEqual(urls(await page(["/d"], 3)), [], "children of a page at maxDepth are too deep");
  // Another run (or the same task started again) starts with nothing sent.
  const again = { ...run, done: new Promise<never>(() => {}) };
  const fresh = await pool.parse(ruleSet.rules.page, context('<a href="/a">x</a>', "page"), {
    run: again,
  });
  assert.deepEqual(urls(fresh), ["http://site.test/a"]);
  // With reload, every link is sent, as the run fetches visited URLs again.
  const reloading: ParseRun = {
    ...run,
    task: { ...run.task, options: { ...run.task.options, reload: true } },
  };
  const reloaded = await pool.parse(ruleSet.rules.page, context('<a href="/a">x</a>', "page"), {
    run: reloading,
  });
  assert.deepEqual(urls(reloaded), ["http://site.test/a"]);
  end();
});

Deno.test("a page still undecoded is decoded in the worker, from its declared charset", async () => {
  using pool = new ParsePool({ workers: 1 });
  const ruleSet = compileRuleSet("gbk", {
    rules: { page: { output: { fields: { title: { regex: "<title>([^<]*)</title>" } } } } },
  });
  // "书名" in GBK, declared only by the Content-Type header.
  const raw = new Uint8Array([
    ...new TextEncoder().encode("<title>"),
    0xca,
    0xe9,
    0xc3,
    0xfb,
    ...new TextEncoder().encode("</title>"),
  ]);
  let decodedHere = 0;
  const page = {
    raw,
    contentType: "text/html; charset=gbk",
    get body() {
      decodedHere++;
      return new TextDecoder("gbk").decode(raw);
    },
  };
  const req: CrawlRequest = {
    url: "http://site.test/",
    method: "GET",
    depth: 0,
    priority: 0,
    ruleName: "page",
    attempt: 0,
  };
  const result = await pool.parse(ruleSet.rules.page, new ParseContext("gbk", req, page));
  assert.equal(result.items?.[0].data.title, "书名");
  assert.equal(decodedHere, 0, "the main thread never decoded the page");
});
