import assert from "node:assert/strict";
import { ClusterWorker } from "./cluster_worker.ts";
import { createTaskResolver } from "./task_resolver.ts";
import { Crawler, type ItemSink } from "../spider/crawler.ts";
import { HttpFetcher } from "../spider/fetcher.ts";
import { MultiLimiter } from "../spider/rate_limiter.ts";
import { silentLogger } from "../log/logger.ts";
import { parseConfig } from "../config/load_config.ts";
import { builtinRuleSets } from "../rulesets/mod.ts";
import { type EmbeddedStore, openEmbeddedStore } from "../store/mod.ts";
import { encodeResourceSpec, type ResourceSpec } from "../proto/resource_spec.ts";
import { resourceKey, workerKey } from "../proto/keys.ts";
import { startDoubanFixture } from "../tests/douban_fixture.ts";

const nullSink: ItemSink = { save() {}, flush: () => Promise.resolve() };

async function waitFor(what: string, check: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * A worker on an embedded store crawling a fixture site. `beforeStart` runs against the store
 * before the worker starts (to assign it resources it must load rather than watch).
 */
async function setup(
  options: {
    site?: Parameters<typeof startDoubanFixture>[0];
    beforeStart?: (store: EmbeddedStore, siteUrl: string) => Promise<unknown>;
  } = {},
) {
  // Slow pages keep the tasks running long enough to watch them start and stop.
  const site = startDoubanFixture(
    options.site ?? { tags: 4, booksPerTag: 30, latencyMs: 30, failOnceEvery: 0 },
  );
  const config = parseConfig(`Tasks = [
    {Name = "preset_books", Rule = "douban_book_list", URL = "${site.url}/", WaitTime = 0, Limits = []},
  ]`);
  const store = await openEmbeddedStore();
  await options.beforeStart?.(store, site.url);
  const fetcher = new HttpFetcher();
  const crawler = new Crawler({
    fetcher,
    sink: nullSink,
    logger: silentLogger,
    concurrency: 2,
    createLimiter: (limits) => MultiLimiter.fromSpecs(limits),
    randomWait: () => Promise.resolve(),
  });
  const worker = new ClusterWorker({
    store,
    crawler,
    resolveTask: createTaskResolver(config, builtinRuleSets()),
    registration: {
      id: "crawler.worker-1",
      address: "127.0.0.1:9090",
      httpAddress: "127.0.0.1:8080",
      startTime: new Date().toISOString(),
    },
    registerTtlSeconds: 5,
    logger: silentLogger,
  });
  const controller = new AbortController();
  const running = worker.run(controller.signal);
  const stop = async () => {
    controller.abort();
    await running;
  };
  const put = (name: string, id: string, node: string, spec?: ResourceSpec["Spec"]) =>
    store.put(
      resourceKey(name),
      encodeResourceSpec({ ID: id, Name: name, AssignedNode: node, CreationTime: 1, Spec: spec }),
    );
  const spec = { rule: "douban_book_list", url: `${site.url}/`, waitTime: 0, limits: [] };
  return {
    site,
    store,
    crawler,
    worker,
    put,
    spec,
    stop,
    async close() {
      await stop();
      await crawler.close();
      fetcher.close();
      await store.close();
      await site.close();
    },
  };
}

const ME = "crawler.worker-1|127.0.0.1:9090";
const OTHER = "crawler.worker-2|127.0.0.1:9092";

Deno.test("cluster worker registers itself and runs only the resources assigned to it", async () => {
  const t = await setup();
  try {
    await waitFor("registration", () => t.worker.ready);
    const registered = await t.store.get(workerKey("crawler.worker-1"));
    assert.ok(registered?.lease, "registered on a lease");
    assert.equal(JSON.parse(registered.value).address, "127.0.0.1:9090");

    await t.put("mine", "1", ME, t.spec);
    await t.put("theirs", "2", OTHER, t.spec);
    await waitFor("task start", () => t.crawler.run("mine")?.stats.fetched! > 0);
    assert.equal(t.crawler.run("theirs"), undefined);
    assert.deepEqual(t.worker.status().map((s) => [s.name, s.state]), [["mine", "running"]]);
  } finally {
    await t.close();
  }
});

Deno.test("cluster worker starts a task once even when the same put is seen again", async () => {
  const t = await setup();
  try {
    await waitFor("registration", () => t.worker.ready);
    await t.put("mine", "1", ME, t.spec);
    await waitFor("task start", () => t.crawler.run("mine") !== undefined);
    const run = t.crawler.run("mine");
    await t.put("mine", "1", ME, t.spec);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(t.crawler.run("mine"), run, "the same run goes on");
    assert.equal(t.site.requests.get("/"), 1, "the root was fetched once");
  } finally {
    await t.close();
  }
});

Deno.test("cluster worker stops a task that is deleted or moved away, promptly", async () => {
  const t = await setup();
  try {
    await waitFor("registration", () => t.worker.ready);
    await t.put("a", "1", ME, t.spec);
    await t.put("b", "2", ME, { ...t.spec, url: `${t.site.url}/` });
    await waitFor("both start", () => !!t.crawler.run("a") && !!t.crawler.run("b"));
    await t.store.delete(resourceKey("a"));
    await t.put("b", "2", OTHER, t.spec);
    await waitFor("both stop", () => !t.crawler.run("a") && !t.crawler.run("b"), 1000);
    const before = t.site.log.length;
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(t.site.log.length, before, "no request after the stop");
    assert.deepEqual(t.worker.status(), []);
  } finally {
    await t.close();
  }
});

Deno.test("cluster worker starts a task afresh when it is added again", async () => {
  const t = await setup();
  try {
    await waitFor("registration", () => t.worker.ready);
    await t.put("again", "1", ME, t.spec);
    await waitFor("start", () => t.crawler.run("again")?.stats.fetched! > 0);
    await t.store.delete(resourceKey("again"));
    await waitFor("stop", () => !t.crawler.run("again"));
    await t.put("again", "7", ME, t.spec);
    await waitFor("restart", () => t.crawler.run("again")?.stats.fetched! > 0);
    assert.equal(t.site.requests.get("/"), 2, "the root is fetched again: a fresh visited set");
  } finally {
    await t.close();
  }
});

Deno.test("cluster worker runs config presets and reports a task it does not know", async () => {
  const t = await setup();
  try {
    await waitFor("registration", () => t.worker.ready);
    await t.put("no_such_task", "1", ME);
    await t.put("preset_books", "2", ME);
    await waitFor("preset start", () => t.crawler.run("preset_books")?.stats.fetched! > 0);
    const unknown = t.worker.status().find((s) => s.name === "no_such_task");
    assert.equal(unknown?.state, "unknown");
    assert.match(unknown?.error ?? "", /unknown task "no_such_task"/);
  } finally {
    await t.close();
  }
});

Deno.test("cluster worker loads what was assigned before it started", async () => {
  const t = await setup({
    site: { tags: 1, booksPerTag: 1 },
    beforeStart: (store, siteUrl) =>
      store.put(
        resourceKey("early"),
        encodeResourceSpec({
          ID: "1",
          Name: "early",
          AssignedNode: ME,
          CreationTime: 1,
          Spec: { rule: "douban_book_list", url: `${siteUrl}/`, waitTime: 0, limits: [] },
        }),
      ),
  });
  try {
    await waitFor("the early task to finish", () => t.worker.status()[0]?.state === "finished");
    assert.equal(t.site.requests.get("/"), 1);
    await t.stop();
    assert.equal(
      await t.store.get(workerKey("crawler.worker-1")),
      undefined,
      "registration revoked",
    );
  } finally {
    await t.close();
  }
});

Deno.test("cluster worker runs a resource that carries a declarative rule set", async () => {
  const t = await setup();
  try {
    await waitFor("registration", () => t.worker.ready);
    await t.put(
      "declared",
      "1",
      ME,
      {
        url: `${t.site.url}/`,
        maxDepth: 1,
        rules: {
          page: {
            links: [{ rule: "page", sameHost: true }],
            output: { fields: { title: { regex: "<title>([^<]*)</title>" } } },
          },
        },
      } as unknown as ResourceSpec["Spec"],
    );
    await waitFor("the task to finish", () => t.worker.status()[0]?.state === "finished");
    const stats = t.worker.status()[0].stats!;
    // The root and the four tag pages (depth 1): one item each, with its title.
    assert.equal(stats.fetched, 5);
    assert.equal(stats.items, 5);
  } finally {
    await t.close();
  }
});

Deno.test("cluster worker does not run a paused resource, stops one paused, runs it on resume", async () => {
  const t = await setup({
    beforeStart: (store, url) =>
      store.put(
        resourceKey("asleep"),
        encodeResourceSpec({
          ID: "1",
          Name: "asleep",
          AssignedNode: ME,
          CreationTime: 1,
          Spec: { rule: "douban_book_list", url: `${url}/`, waitTime: 0, limits: [] },
          Paused: true,
        }),
      ),
  });
  const putPaused = (name: string, id: string, paused: boolean) =>
    t.store.put(
      resourceKey(name),
      encodeResourceSpec({
        ID: id,
        Name: name,
        AssignedNode: ME,
        CreationTime: 1,
        Spec: t.spec,
        ...(paused ? { Paused: true } : {}),
      }),
    );
  try {
    await waitFor("registration", () => t.worker.ready);
    // Loaded paused at start: assigned, shown paused, not run.
    assert.deepEqual(t.worker.status().map((s) => [s.name, s.state]), [["asleep", "paused"]]);
    assert.equal(t.crawler.run("asleep"), undefined);

    await t.put("busy", "2", ME, t.spec);
    await waitFor("busy runs", () => t.crawler.run("busy")?.stats.fetched! > 0);
    await putPaused("busy", "2", true);
    await waitFor("busy stops", () => !t.crawler.run("busy"), 1000);
    const before = t.site.log.length;
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(t.site.log.length, before, "nothing is fetched for a paused task");
    assert.deepEqual(t.worker.status().map((s) => [s.name, s.state]).sort(), [
      ["asleep", "paused"],
      ["busy", "paused"],
    ]);

    await putPaused("asleep", "1", false);
    await waitFor("asleep runs on resume", () => t.crawler.run("asleep")?.stats.fetched! > 0);
    assert.equal(t.worker.status().find((s) => s.name === "asleep")?.state, "running");
  } finally {
    await t.close();
  }
});
