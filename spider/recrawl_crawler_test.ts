/**
 * The engine's revisits (docs/frontier.md, "Recrawl") on an in-memory site and frontier:
 * conditional GETs, change detection on the rule's output, adaptive intervals, `once`.
 */
import assert from "node:assert/strict";
import { Crawler, type ItemSink } from "./crawler.ts";
import type { Fetcher, FetchRequest, FetchResponse } from "./fetcher.ts";
import type { RuleSet } from "./rule_set.ts";
import type { Task } from "./task.ts";
import type { Item } from "./item.ts";
import { MultiLimiter } from "./rate_limiter.ts";
import { silentLogger } from "../log/logger.ts";
import { MemoryFrontier } from "../frontier/memory_frontier.ts";
import type { Outcome } from "../frontier/frontier.ts";
import type { RecrawlPolicy } from "./recrawl.ts";
import { waitFor } from "../tests/kit/wait.ts";

interface Page {
  links: string[];
  /** What the rule outputs, an item each. */
  items: string[];
  /** Sends `ETag: "<version>"` and answers 304 to a matching `If-None-Match`. */
  etag?: boolean;
  /** Adds a token to the body that changes on every fetch (not in the rule's output). */
  noisy?: boolean;
  version: number;
}

/** A site of pages that may change; it records what each fetch asked and got. */
class ChangingSite implements Fetcher {
  readonly fetches: Array<{ path: string; ifNoneMatch?: string; status: number }> = [];
  #token = 0;

  constructor(readonly pages: Record<string, Page>) {}

  fetch(req: FetchRequest): Promise<FetchResponse> {
    const path = new URL(req.url).pathname;
    const page = this.pages[path];
    const etag = page.etag ? `"${page.version}"` : undefined;
    if (etag !== undefined && req.validators?.etag === etag) {
      this.fetches.push({ path, ifNoneMatch: req.validators.etag, status: 304 });
      return Promise.resolve({
        url: req.url,
        status: 304,
        body: "",
        contentType: null,
        bytes: 0,
        etag,
      });
    }
    this.fetches.push({ path, ifNoneMatch: req.validators?.etag, status: 200 });
    const body = page.links.map((l) => `<a href="${l}">x</a>`).join("") +
      page.items.map((i) => `<i>${i}</i>`).join("") +
      (page.noisy ? `<p>token ${++this.#token}</p>` : "");
    return Promise.resolve({
      url: req.url,
      status: 200,
      body,
      contentType: "text/html",
      bytes: body.length,
      ...(etag !== undefined && { etag }),
    });
  }

  count(path: string, status?: number): number {
    return this.fetches.filter((f) => f.path === path && (status ?? f.status) === f.status).length;
  }
}

/** A sink that keeps rows by key, as the SQL sinks do, and applies retires. */
class RowSink implements ItemSink {
  readonly rows = new Map<string, Item>();
  writes = 0;
  readonly retired: Array<{ url: string; keep: readonly string[] }> = [];
  save(item: Item): void {
    this.writes++;
    this.rows.set(item.key, item);
  }
  retire(_task: string, url: string, keep: readonly string[]): void {
    this.retired.push({ url, keep });
    for (const [key, item] of this.rows) {
      if (item.url === url && !keep.includes(key)) this.rows.delete(key);
    }
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
}

/** A memory frontier that records each page's revisit intervals, in order. */
class RecordingFrontier extends MemoryFrontier {
  readonly intervals = new Map<string, number[]>();
  override complete(outcomes: readonly Outcome[]): Promise<boolean[]> {
    for (const outcome of outcomes) {
      if (outcome.kind !== "done" || !outcome.revisit) continue;
      const path = new URL(outcome.claim.request.url).pathname;
      this.intervals.set(path, [...this.intervals.get(path) ?? [], outcome.revisit.intervalMs]);
    }
    return super.complete(outcomes);
  }
}

const rules: RuleSet = {
  name: "items",
  defaults: { url: "http://site.test/" },
  root: ({ url }) => [{ url, ruleName: "page" }],
  rules: {
    page: {
      itemFields: ["text"],
      parse(ctx) {
        const links = [...ctx.body.matchAll(/href="([^"]+)"/g)].map((m) => m[1]);
        const items = [...ctx.body.matchAll(/<i>([^<]*)<\/i>/g)].map((m) => m[1]);
        return {
          requests: links.map((href) => ctx.follow(href, "page")!),
          items: items.map((text) => ctx.output({ text })),
        };
      },
    },
  },
};

function task(recrawl: RecrawlPolicy): Task {
  return {
    ruleSet: rules,
    options: {
      name: "fresh",
      url: "http://site.test/",
      waitTime: 0,
      reload: false,
      maxDepth: 5,
      limits: [],
      recrawl,
    },
  };
}

function crawler(fetcher: Fetcher, sink: ItemSink, frontier = new MemoryFrontier()) {
  return new Crawler({
    fetcher,
    sink,
    frontier,
    logger: silentLogger,
    concurrency: 2,
    createLimiter: (limits) => MultiLimiter.fromSpecs(limits),
    randomWait: () => Promise.resolve(),
  });
}

Deno.test("a recrawl task revisits its pages: 304s, unchanged and changed pages", async () => {
  const site = new ChangingSite({
    "/": { links: ["/etag", "/noisy", "/news"], items: ["home"], etag: true, version: 1 },
    "/etag": { links: [], items: ["a"], etag: true, version: 1 },
    "/noisy": { links: [], items: ["b"], noisy: true, version: 1 },
    "/news": { links: [], items: ["x", "y", "z"], version: 1 },
  });
  const sink = new RowSink();
  const engine = crawler(site, sink);
  const policy = { intervalMs: 150, minMs: 50, maxMs: 1000, adaptive: true };
  const run = engine.start(task(policy));
  try {
    await waitFor(() => sink.rows.size === 6, { what: "the first pass stored" });
    const firstWrites = sink.writes;
    const times = new Map([...sink.rows].map(([key, item]) => [key, item.time]));
    // The news page loses one item and changes another before its revisit.
    site.pages["/news"].items = ["x", "y2"];
    // Every page is revisited; the news page is found changed (on its first revisit after the
    // change, whichever that is), the others not.
    const recrawl = run.stats.recrawl!;
    await waitFor(
      () =>
        ["/", "/etag", "/noisy", "/news"].every((p) => site.count(p) >= 2) &&
        recrawl.changed >= 1 && recrawl.unchanged >= 1 && recrawl.notModified >= 2,
      { what: "every page revisited, the news page changed", timeoutMs: 5000 },
    );
    // The pages with an ETag were asked with it and answered 304.
    assert.equal(
      site.fetches.find((f) => f.path === "/etag" && f.status === 304)?.ifNoneMatch,
      '"1"',
    );
    assert.equal(recrawl.changed, 1, "only the news page changed, once");
    // Only the news page was written again; its removed item is gone.
    assert.equal(sink.writes, firstWrites + 2);
    assert.deepEqual(
      [...sink.rows.values()].filter((i) => i.url.endsWith("/news")).map((i) => i.data.text),
      ["x", "y2"],
    );
    assert.deepEqual(sink.retired.map((r) => r.url), ["http://site.test/news"]);
    for (const [key, item] of sink.rows) {
      if (!item.url.endsWith("/news")) assert.equal(item.time, times.get(key), `${key} rewritten`);
    }
    assert.equal(run.state, "running", "a recrawl task is never finished");
    const counts = await engine.frontier.counts("fresh");
    assert.equal(counts.scheduled + counts.leased, 4);
    assert.equal(counts.done, 0);
  } finally {
    await engine.close();
  }
});

Deno.test("adaptive: an unchanged page reaches Max by ×1.5 steps, a changing one Min", async () => {
  const site = new ChangingSite({
    "/": { links: ["/still", "/busy"], items: [], etag: true, version: 1 },
    "/still": { links: [], items: ["same"], etag: true, version: 1 },
    "/busy": { links: [], items: ["v1"], version: 1 },
  });
  const frontier = new RecordingFrontier();
  const engine = crawler(site, new RowSink(), frontier);
  // The busy page changes on every visit.
  const busy = site.pages["/busy"];
  const original = site.fetch.bind(site);
  site.fetch = (req) => {
    if (req.url.endsWith("/busy")) busy.items = [`v${++busy.version}`];
    return original(req);
  };
  const policy = { intervalMs: 40, minMs: 10, maxMs: 200, adaptive: true };
  engine.start(task(policy));
  try {
    await waitFor(
      () =>
        (frontier.intervals.get("/still")?.length ?? 0) >= 6 &&
        (frontier.intervals.get("/busy")?.length ?? 0) >= 4,
      { what: "six visits of /still, four of /busy", timeoutMs: 5000 },
    );
    assert.deepEqual(frontier.intervals.get("/still")!.slice(0, 6), [40, 60, 90, 135, 200, 200]);
    assert.deepEqual(frontier.intervals.get("/busy")!.slice(0, 4), [40, 20, 10, 10]);
  } finally {
    await engine.close();
  }
});

Deno.test("a recrawl task run once fetches each page once and finishes", async () => {
  const site = new ChangingSite({
    "/": { links: ["/a"], items: ["home"], etag: true, version: 1 },
    "/a": { links: [], items: ["a"], version: 1 },
  });
  const engine = crawler(site, new RowSink());
  const run = engine.start(task({ intervalMs: 50, minMs: 50, maxMs: 50, adaptive: false }), {
    once: true,
  });
  try {
    assert.equal(await run.done, "finished");
    assert.deepEqual(site.fetches.map((f) => f.path), ["/", "/a"]);
    assert.equal(run.stats.recrawl, undefined);
    const counts = await engine.frontier.counts("fresh");
    assert.deepEqual([counts.done, counts.scheduled], [2, 0]);
  } finally {
    await engine.close();
  }
});

Deno.test("a task whose recrawl was removed finishes once what is due is fetched", async () => {
  const site = new ChangingSite({
    "/": { links: ["/a"], items: ["home"], version: 1 },
    "/a": { links: [], items: ["a"], version: 1 },
  });
  const frontier = new MemoryFrontier();
  const first = crawler(site, new RowSink(), frontier);
  const scheduled = first.start(
    task({ intervalMs: 60_000, minMs: 60_000, maxMs: 60_000, adaptive: false }),
  );
  await waitFor(async () => (await frontier.counts("fresh")).scheduled === 2, {
    what: "both pages scheduled for a revisit",
  });
  assert.equal(scheduled.state, "running");
  await first.close();
  // The same task without Recrawl: nothing is due, so the run finishes at once.
  const second = crawler(site, new RowSink(), frontier);
  const plain = task({ intervalMs: 1, minMs: 1, maxMs: 1, adaptive: false });
  delete plain.options.recrawl;
  try {
    assert.equal(await second.start(plain).done, "finished");
    assert.equal(site.fetches.length, 2, "no page fetched before its revisit");
  } finally {
    await second.close();
  }
});
