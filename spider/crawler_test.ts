import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { Crawler, type ItemSink } from "./crawler.ts";
import { type Fetcher, FetchError, type FetchRequest, type FetchResponse } from "./fetcher.ts";
import type { RuleSet } from "./rule_set.ts";
import type { Task } from "./task.ts";
import type { Item } from "./item.ts";
import { MultiLimiter } from "./rate_limiter.ts";
import { type Logger, silentLogger } from "../log/logger.ts";
import { MemoryFrontier } from "../frontier/memory_frontier.ts";
import { toRequest } from "../frontier/crawl_request.ts";
import { SqliteFrontier } from "../frontier/sqlite_frontier.ts";
import type { Outcome } from "../frontier/frontier.ts";
import { MemoryHostStore } from "./politeness/memory_host_store.ts";
import { RobotsCache } from "./politeness/robots_cache.ts";
import { Politeness } from "./politeness/politeness.ts";
import { waitFor } from "../tests/kit/wait.ts";

/** An in-memory site: each page lists the paths it links to. */
class SiteFetcher implements Fetcher {
  readonly log: string[] = [];
  failuresLeft = new Map<string, number>();
  status = new Map<string, number>();
  hang = new Set<string>();
  aborted = 0;

  constructor(readonly pages: Record<string, string[]>) {}

  fetch(req: FetchRequest): Promise<FetchResponse> {
    const path = new URL(req.url).pathname;
    this.log.push(path);
    if (this.hang.has(path)) {
      return new Promise((_, reject) =>
        req.signal?.addEventListener("abort", () => {
          this.aborted++;
          reject(req.signal!.reason);
        }, { once: true })
      );
    }
    const failures = this.failuresLeft.get(path) ?? 0;
    if (failures > 0) {
      this.failuresLeft.set(path, failures - 1);
      return Promise.reject(new FetchError(`503 for ${req.url}`, { retriable: true, status: 503 }));
    }
    const status = this.status.get(path);
    if (status) {
      return Promise.reject(
        new FetchError(`${status} for ${req.url}`, { retriable: false, status }),
      );
    }
    const links = this.pages[path] ?? [];
    const body = links.map((l) => `<a href="${l}">x</a>`).join("");
    return Promise.resolve({
      url: req.url,
      status: 200,
      body,
      contentType: "text/html",
      bytes: body.length,
    });
  }
}

class MemorySink implements ItemSink {
  items: Item[] = [];
  save(item: Item): void {
    this.items.push(item);
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
}

const linkRules: RuleSet = {
  name: "links",
  defaults: { url: "http://site.test/" },
  root: ({ url }) => [{ url, ruleName: "page" }],
  rules: {
    page: {
      itemFields: ["links"],
      parse(ctx) {
        const hrefs = [...ctx.body.matchAll(/href="([^"]+)"/g)].map((m) => m[1]);
        return {
          requests: hrefs.map((h) => ctx.follow(h, "page")!),
          items: [ctx.output({ links: hrefs.length })],
        };
      },
    },
  },
};

function task(name: string, options: Partial<Task["options"]> = {}): Task {
  return {
    ruleSet: linkRules,
    options: {
      name,
      url: "http://site.test/",
      waitTime: 0,
      reload: false,
      maxDepth: 5,
      limits: [],
      ...options,
    },
  };
}

function crawler(fetcher: Fetcher, sink = new MemorySink(), concurrency = 4) {
  return new Crawler({
    fetcher,
    sink,
    logger: silentLogger,
    concurrency,
    retries: 1,
    createLimiter: (limits) => MultiLimiter.fromSpecs(limits),
    randomWait: () => Promise.resolve(),
  });
}

Deno.test("crawler fetches each URL once even when pages link in cycles", async () => {
  const site = new SiteFetcher({
    "/": ["/a", "/b"],
    "/a": ["/", "/b"],
    "/b": ["/a", "/c"],
    "/c": ["/"],
  });
  const sink = new MemorySink();
  const engine = crawler(site, sink);
  const run = engine.start(task("cycle"));
  assert.equal(await run.done, "finished");
  assert.deepEqual([...site.log].sort(), ["/", "/a", "/b", "/c"]);
  assert.equal(sink.items.length, 4);
  assert.equal(run.stats.duplicates, 4);
  await engine.close();
});

Deno.test("crawler drops requests deeper than maxDepth", async () => {
  const site = new SiteFetcher({ "/": ["/1"], "/1": ["/2"], "/2": ["/3"], "/3": ["/4"] });
  const engine = crawler(site);
  const run = engine.start(task("deep", { maxDepth: 2 }));
  await run.done;
  assert.deepEqual(site.log, ["/", "/1", "/2"]);
  assert.equal(run.stats.tooDeep, 1);
  await engine.close();
});

Deno.test("crawler retries a retriable failure once and then counts it failed", async () => {
  const site = new SiteFetcher({ "/": ["/flaky", "/down", "/gone"] });
  site.failuresLeft.set("/flaky", 1);
  site.failuresLeft.set("/down", 5);
  site.status.set("/gone", 404);
  const engine = crawler(site);
  const run = engine.start(task("retry"));
  await run.done;
  const count = (p: string) => site.log.filter((x) => x === p).length;
  assert.equal(count("/flaky"), 2, "one retry, then success");
  assert.equal(count("/down"), 2, "one retry, then failed");
  assert.equal(count("/gone"), 1, "a 404 is not retried");
  assert.equal(run.stats.fetched, 2);
  assert.equal(run.stats.failed, 2);
  assert.equal(run.stats.retried, 2);
  await engine.close();
});

Deno.test("stopping a task aborts its in-flight fetches and schedules nothing more", async () => {
  const site = new SiteFetcher({ "/": ["/slow1", "/slow2", "/next"], "/next": ["/later"] });
  site.hang.add("/slow1");
  site.hang.add("/slow2");
  const sink = new MemorySink();
  const engine = crawler(site, sink, 2);
  const run = engine.start(task("stoppable"));
  await waitFor(() => site.log.filter((p) => p.startsWith("/slow")).length === 2, {
    what: "both slow fetches under way",
    intervalMs: 1,
  });
  assert.ok(engine.stop("stoppable"));
  assert.equal(await run.done, "stopped");
  await engine.close();
  assert.equal(site.aborted, 2, "both hanging fetches were aborted");
  assert.ok(!site.log.includes("/later"));
  assert.equal(engine.run("stoppable"), undefined);

  // Started again, the task resumes its crawl: the page acknowledged is not fetched again, the
  // ones it was fetching when stopped are.
  site.hang.clear();
  const again = engine.start(task("stoppable"));
  assert.equal((await again.opened).mode, "resumed");
  assert.equal(await again.done, "finished");
  assert.equal(site.log.filter((p) => p === "/").length, 1);
  assert.equal(site.log.filter((p) => p === "/slow1").length, 2);
  assert.ok(site.log.includes("/later"));
  assert.deepEqual(again.stats.frontier, {
    queued: 0,
    leased: 0,
    done: 5,
    failed: 0,
    scheduled: 0,
    due: 0,
  });

  // Finished, it starts a new crawl; `fresh` starts one whatever the state.
  const third = engine.start(task("stoppable"));
  assert.deepEqual(await third.opened.then((o) => o.mode === "new" && o.reason), "finished");
  assert.equal(await third.done, "finished");
  assert.equal(site.log.filter((p) => p === "/").length, 2);
  const fresh = engine.start(task("stoppable"), { fresh: true });
  assert.deepEqual(await fresh.opened.then((o) => o.mode === "new" && o.reason), "fresh");
  await engine.close();
});

Deno.test("a rate-limited task does not hold fetch slots another task needs", async () => {
  const site = new SiteFetcher({ "/": ["/1", "/2", "/3"] });
  const engine = crawler(site, new MemorySink(), 1);
  // One fetch, then one per 10 minutes: this task is stuck waiting on its limiter.
  const slow = engine.start(
    task("slow", { limits: [{ eventCount: 1, eventDur: 600, bucket: 1 }] }),
  );
  const fast = engine.start(task("fast"));
  assert.equal(await fast.done, "finished");
  assert.equal(fast.stats.fetched, 4);
  assert.equal(slow.stats.fetched, 1);
  engine.stop("slow");
  await engine.close();
});

Deno.test("a task cannot be started twice while it runs", async () => {
  const site = new SiteFetcher({});
  site.hang.add("/");
  const engine = crawler(site);
  engine.start(task("once"));
  assert.throws(() => engine.start(task("once")), /already running/);
  await engine.close();
});

Deno.test("a rule that throws counts the page failed and the crawl goes on", async () => {
  const site = new SiteFetcher({ "/": ["/bad", "/good"] });
  const rules: RuleSet = {
    ...linkRules,
    rules: {
      page: {
        parse(ctx) {
          if (ctx.req.url.endsWith("/bad")) throw new Error("cannot parse");
          return linkRules.rules.page.parse(ctx);
        },
      },
    },
  };
  const engine = crawler(site);
  const run = engine.start({ ...task("throws"), ruleSet: rules });
  assert.equal(await run.done, "finished");
  assert.equal(run.stats.failed, 1);
  assert.equal(run.stats.fetched, 3);
  await engine.close();
});

Deno.test("a page failed for good is done with what its rule's recover queues instead", async () => {
  const site = new SiteFetcher({ "/found": [] });
  site.status.set("/robots.txt", 404);
  const rules: RuleSet = {
    name: "fallback",
    defaults: { url: "http://site.test/" },
    root: ({ url }) => [{ url: new URL("/robots.txt", url).href, ruleName: "robots" }],
    rules: {
      robots: {
        parse: () => ({}),
        recover: (req) => ({
          requests: [toRequest({ url: new URL("/found", req.url).href, ruleName: "page" })],
        }),
      },
      page: linkRules.rules.page,
    },
  };
  const engine = crawler(site);
  const run = engine.start({ ...task("fallback"), ruleSet: rules });
  assert.equal(await run.done, "finished");
  assert.deepEqual(site.log, ["/robots.txt", "/found"]);
  assert.equal(run.stats.failed, 0, "stood in for, not failed");
  assert.deepEqual(run.stats.frontier, {
    queued: 0,
    leased: 0,
    done: 2,
    failed: 0,
    scheduled: 0,
    due: 0,
  });
  await engine.close();
});

Deno.test("a rule that streams its body reads it within its fetch; a broken download is retried", async () => {
  const requests: FetchRequest[] = [];
  const chunk = new Uint8Array(1000);
  const fetcher: Fetcher = {
    fetch(req) {
      requests.push(req);
      const broken = requests.length === 1;
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(chunk);
          if (broken) {
            controller.error(new FetchError("fetching failed: reset", { retriable: true }));
          } else {
            controller.enqueue(chunk);
            controller.close();
          }
        },
      });
      return Promise.resolve({
        url: req.url,
        status: 200,
        get body(): string {
          throw new Error("streamed");
        },
        stream,
        contentType: "application/xml",
        bytes: 0,
      });
    },
  };
  const rules: RuleSet = {
    name: "big",
    defaults: { url: "http://site.test/big.xml" },
    root: ({ url }) => [{ url, ruleName: "big" }],
    rules: {
      big: {
        fetch: { stream: true, maxBodyBytes: 50 << 20 },
        async parse(ctx) {
          let bytes = 0;
          for await (const piece of ctx.chunks()) bytes += piece.byteLength;
          return { items: [ctx.output({ bytes })] };
        },
      },
    },
  };
  const sink = new MemorySink();
  const engine = crawler(fetcher, sink);
  const run = engine.start({ ...task("big"), ruleSet: rules });
  assert.equal(await run.done, "finished");
  assert.deepEqual(requests.map((r) => [r.stream, r.maxBodyBytes]), [
    [true, 50 << 20],
    [true, 50 << 20],
  ]);
  assert.equal(run.stats.retried, 1, "the broken download counts as a failed fetch");
  assert.equal(run.stats.fetched, 1);
  assert.deepEqual(sink.items.map((i) => i.data), [{ bytes: 2000 }]);
  await engine.close();
});

Deno.test("a task whose pages are rendered counts its renders in its stats; others have none", async () => {
  const site = new SiteFetcher({ "/": ["/a", "/b"] });
  const rendering: Fetcher = {
    async fetch(req) {
      req.renderWatch?.opened(req.url.endsWith("/a"));
      const page = await site.fetch(req);
      req.renderWatch?.ended(req.url.endsWith("/b") ? "timeout" : "ok", 0.2);
      if (req.url.endsWith("/b")) throw new FetchError("render timeout", { retriable: false });
      return page;
    },
  };
  const engine = crawler(rendering);
  const rendered = engine.start(task("rendered", { fetcher: "browser" }));
  assert.equal(await rendered.done, "finished");
  const seconds = new Array(11).fill(0);
  seconds[1] = 3; // 0.2 s: up to 0.25 s
  assert.deepEqual(rendered.stats.render, {
    rendered: 2,
    failed: 1,
    seconds,
    open: 0,
    restarts: 1,
  });
  const plain = engine.start(task("plain"));
  assert.equal(await plain.done, "finished");
  assert.equal(plain.stats.render, undefined);
  await engine.close();
});

/** A frontier that fails its next `failures` writes, then works (a database going away). */
class FlakyFrontier extends MemoryFrontier {
  failures = 0;
  completes = 0;
  onComplete: (outcomes: readonly Outcome[]) => void = () => {};

  override complete(outcomes: readonly Outcome[]): Promise<boolean[]> {
    if (this.failures > 0) {
      this.failures--;
      return Promise.reject(new Error("connection refused"));
    }
    this.completes++;
    this.onComplete(outcomes);
    return super.complete(outcomes);
  }
}

/** A sink that counts what reached `flush`. */
class CountingSink extends MemorySink {
  flushed = 0;
  override flush(): Promise<void> {
    this.flushed = this.items.length;
    return Promise.resolve();
  }
}

Deno.test("a page is acknowledged only after its items were flushed to the sink", async () => {
  const pages: Record<string, string[]> = { "/": [] };
  for (let i = 0; i < 60; i++) pages["/"].push(`/p${i}`);
  const site = new SiteFetcher(pages);
  const sink = new CountingSink();
  const frontier = new FlakyFrontier();
  frontier.onComplete = (outcomes) => {
    for (const o of outcomes) {
      if (o.kind !== "done") continue;
      const stored = sink.items.slice(0, sink.flushed).filter((i) => i.url === o.claim.request.url);
      assert.equal(stored.length, 1, `items of ${o.claim.request.url} flushed before its ack`);
    }
  };
  const engine = new Crawler({
    fetcher: site,
    sink,
    frontier,
    logger: silentLogger,
    concurrency: 4,
    createLimiter: (limits) => MultiLimiter.fromSpecs(limits),
    randomWait: () => Promise.resolve(),
  });
  const run = engine.start(task("durable"));
  assert.equal(await run.done, "finished");
  assert.deepEqual(run.stats.frontier, {
    queued: 0,
    leased: 0,
    done: 61,
    failed: 0,
    scheduled: 0,
    due: 0,
  });
  assert.ok(frontier.completes > 1 && frontier.completes < 61, "acks are committed in groups");
  await engine.close();
});

Deno.test("when the frontier fails, acknowledgements wait and go through once it is back", async () => {
  const site = new SiteFetcher({ "/": ["/a", "/b"], "/a": ["/c"], "/b": ["/c"] });
  const sink = new MemorySink();
  const frontier = new FlakyFrontier();
  frontier.failures = 3;
  const engine = new Crawler({
    fetcher: site,
    sink,
    frontier,
    logger: silentLogger,
    createLimiter: (limits) => MultiLimiter.fromSpecs(limits),
    randomWait: () => Promise.resolve(),
  });
  const run = engine.start(task("flaky"));
  assert.equal(await run.done, "finished");
  assert.equal(frontier.failures, 0);
  assert.deepEqual([...site.log].sort(), ["/", "/a", "/b", "/c"]);
  assert.equal(sink.items.length, 4);
  assert.deepEqual(run.stats.frontier, {
    queued: 0,
    leased: 0,
    done: 4,
    failed: 0,
    scheduled: 0,
    due: 0,
  });
  await engine.close();
});

Deno.test("stopping a task with drop removes its crawl from the frontier", async () => {
  const site = new SiteFetcher({ "/": ["/hang", "/x"] });
  site.hang.add("/hang");
  const frontier = new MemoryFrontier();
  const engine = new Crawler({
    fetcher: site,
    sink: new MemorySink(),
    frontier,
    logger: silentLogger,
    createLimiter: (limits) => MultiLimiter.fromSpecs(limits),
    randomWait: () => Promise.resolve(),
  });
  const run = engine.start(task("deleted"), { crawl: "resource-1" });
  await waitFor(() => site.log.includes("/hang"), { what: "the hanging fetch", intervalMs: 1 });
  engine.dropCrawl("deleted", "resource-1");
  assert.equal(engine.run("deleted"), undefined);
  await engine.close();
  assert.equal(await run.done, "stopped");
  assert.deepEqual(await frontier.counts("deleted"), {
    queued: 0,
    leased: 0,
    done: 0,
    failed: 0,
    scheduled: 0,
    due: 0,
  });
  await assert.rejects(frontier.add("deleted", []), /no crawl/);
});

/** A site over `hosts` hosts of `pages` pages each, every page linking across hosts. */
function multiHostSite(hosts: number, pages: number): Record<string, string[]> {
  const site: Record<string, string[]> = {};
  for (let h = 0; h < hosts; h++) {
    for (let p = 0; p < pages; p++) {
      site[`h${h}/p${p}`] = [
        `http://h${h}.test/p${p + 1}`,
        `http://h${(h + 1) % hosts}.test/p${p}`,
      ].filter((url) => Number(url.slice(url.lastIndexOf("p") + 1)) < pages);
    }
  }
  return site;
}

/** Serves `multiHostSite` pages by host and path, recording when each host was asked. */
class HostsFetcher implements Fetcher {
  readonly times = new Map<string, number[]>();
  readonly fetched: string[] = [];
  inFlight = new Map<string, number>();
  maxInFlight = 0;

  constructor(readonly site: Record<string, string[]>, readonly ms = 5) {}

  async fetch(req: FetchRequest): Promise<FetchResponse> {
    const url = new URL(req.url);
    const host = url.hostname.split(".")[0];
    this.fetched.push(req.url);
    (this.times.get(host) ?? this.times.set(host, []).get(host)!).push(performance.now());
    this.inFlight.set(host, (this.inFlight.get(host) ?? 0) + 1);
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight.get(host)!);
    await new Promise((r) => setTimeout(r, this.ms));
    this.inFlight.set(host, this.inFlight.get(host)! - 1);
    const links = this.site[`${host}${url.pathname}`] ?? [];
    const body = links.map((l) => `<a href="${l}">x</a>`).join("");
    return { url: req.url, status: 200, body, contentType: "text/html", bytes: body.length };
  }
}

function politeCrawler(fetcher: Fetcher, polite: { delayMs: number; perHostConcurrency: number }) {
  const store = new MemoryHostStore();
  const notFound = () => Promise.resolve(new Response("", { status: 404 }));
  const robots = new RobotsCache(store, { userAgent: "crawler", fetch: notFound });
  return new Crawler({
    fetcher,
    sink: new MemorySink(),
    logger: silentLogger,
    concurrency: 8,
    createLimiter: (limits) => MultiLimiter.fromSpecs(limits),
    randomWait: () => Promise.resolve(),
    politeness: {
      gate: new Politeness(store, robots, { userAgent: "crawler" }),
      defaults: { robots: true, ...polite },
    },
  });
}

Deno.test("claims give no request back: hosts with a delay are claimed only when due", async () => {
  const site = multiHostSite(6, 4);
  const fetcher = new HostsFetcher(site);
  const c = politeCrawler(fetcher, { delayMs: 60, perHostConcurrency: 8 });
  const run = c.start(task("polite", { url: "http://h0.test/p0", maxDepth: 20 }));
  assert.equal(await run.done, "finished");
  assert.equal(fetcher.fetched.length, 24);
  assert.equal(new Set(fetcher.fetched).size, 24, "each page once");
  assert.equal(run.stats.deferred, 0, "no claim went back untried");
  for (const [host, times] of fetcher.times) {
    const gaps = times.slice(1).map((t, i) => t - times[i]);
    // The delay counts from the previous answer, so gaps are at least the delay.
    assert.ok(gaps.every((gap) => gap >= 59), `${host}: ${gaps}`);
  }
  await c.close();
});

Deno.test("more fetch slots than a host's concurrency: the extra claims wait, none goes back", async () => {
  const site = multiHostSite(1, 60);
  const fetcher = new HostsFetcher(site, 2);
  const c = politeCrawler(fetcher, { delayMs: 0, perHostConcurrency: 2 });
  const run = c.start(task("one-host", { url: "http://h0.test/p0", maxDepth: 100 }));
  assert.equal(await run.done, "finished");
  assert.equal(fetcher.fetched.length, 60);
  assert.equal(run.stats.deferred, 0, "no claim went back untried");
  assert.ok(fetcher.maxInFlight <= 2, `${fetcher.maxInFlight} requests to the host at once`);
  await c.close();
});

/** A frontier that loses the first acknowledgement of one page: not counted, nothing added. */
class LosingFrontier extends MemoryFrontier {
  lost = 0;

  constructor(readonly path: string) {
    super();
  }

  override async complete(outcomes: readonly Outcome[]): Promise<boolean[]> {
    const lose = (o: Outcome) =>
      this.lost === 0 && o.kind === "done" && new URL(o.claim.request.url).pathname === this.path;
    const kept = outcomes.filter((o) => !lose(o));
    if (kept.length < outcomes.length) this.lost++;
    const counted = await super.complete(kept);
    return outcomes.map((o) => kept.includes(o) ? counted[kept.indexOf(o)] : false);
  }
}

Deno.test("a page whose acknowledgement was lost sends its links again when fetched again", async () => {
  const site = new SiteFetcher({ "/": ["/a"], "/a": ["/c"], "/c": [] });
  const frontier = new LosingFrontier("/a");
  const engine = new Crawler({
    fetcher: site,
    sink: new MemorySink(),
    logger: silentLogger,
    frontier,
    // The lost acknowledgement leaves "/a" leased: it is claimed again once this lapses.
    leaseMs: 300,
    createLimiter: (limits) => MultiLimiter.fromSpecs(limits),
    randomWait: () => Promise.resolve(),
  });
  const run = engine.start(task("lost-ack"));
  assert.equal(await run.done, "finished");
  await engine.close();
  assert.equal(frontier.lost, 1);
  assert.deepEqual(site.log, ["/", "/a", "/a", "/c"], "its link was not dropped as known");
  assert.deepEqual(run.stats.frontier, {
    queued: 0,
    leased: 0,
    done: 3,
    failed: 0,
    scheduled: 0,
    due: 0,
  });
});

/** A logger that keeps what is logged at warn and above. */
function warnings(): { logger: Logger; messages: string[] } {
  const messages: string[] = [];
  const logger: Logger = {
    debug() {},
    info() {},
    warn: (msg) => messages.push(msg),
    error: (msg) => messages.push(msg),
    child: () => logger,
  };
  return { logger, messages };
}

Deno.test("a SQLite frontier locked by another process: claims and acknowledgements wait, then go on", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/frontier.db`;
  const frontier = new SqliteFrontier(path, { busyTimeoutMs: 20 });
  const other = new DatabaseSync(path);
  other.exec("PRAGMA busy_timeout = 5000");
  const site = new SiteFetcher({ "/": ["/a", "/b"], "/a": ["/c"], "/b": ["/c", "/d"] });
  const fetch = site.fetch.bind(site);
  // Another process takes the file's write lock while the first page is fetched: its
  // acknowledgement and the claims after it find the file locked.
  site.fetch = (req) => {
    if (new URL(req.url).pathname === "/" && !other.isTransaction) other.exec("BEGIN IMMEDIATE");
    return fetch(req);
  };
  const { logger, messages } = warnings();
  const engine = new Crawler({
    fetcher: site,
    sink: new MemorySink(),
    logger,
    frontier,
    createLimiter: (limits) => MultiLimiter.fromSpecs(limits),
    randomWait: () => Promise.resolve(),
  });
  try {
    const run = engine.start(task("locked"));
    await waitFor(() => messages.includes("storing results or acknowledgements failed; retrying"), {
      what: "the acknowledgement to meet the lock",
    });
    other.exec("COMMIT");
    assert.equal(await run.done, "finished");
    assert.deepEqual([...site.log].sort(), ["/", "/a", "/b", "/c", "/d"], "each page once");
    assert.deepEqual(run.stats.frontier, {
      queued: 0,
      leased: 0,
      done: 5,
      failed: 0,
      scheduled: 0,
      due: 0,
    });
  } finally {
    await engine.close();
    other.close();
    await frontier.close();
    await Deno.remove(dir, { recursive: true });
  }
});
