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
import { claimKey, resourceKey, workerKey } from "../proto/keys.ts";
import type { Lease, Store } from "../store/store.ts";
import { startDoubanFixture } from "../tests/douban_fixture.ts";
import { holdsFor, waitFor } from "../tests/kit/wait.ts";

const nullSink: ItemSink = { save() {}, flush: () => Promise.resolve() };

/**
 * A worker on an embedded store crawling a fixture site. `beforeStart` runs against the store
 * before the worker starts (to assign it resources it must load rather than watch).
 */
async function setup(
  options: {
    site?: Parameters<typeof startDoubanFixture>[0];
    beforeStart?: (store: EmbeddedStore, siteUrl: string) => Promise<unknown>;
    /** The store the worker sees (default: the embedded store itself). */
    wrap?: (store: EmbeddedStore) => Store;
    /** `RegisterTTL`, seconds. Default 5. */
    ttlSeconds?: number;
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
    store: options.wrap?.(store) ?? store,
    crawler,
    resolveTask: createTaskResolver(config, builtinRuleSets()),
    registration: {
      id: "crawler.worker-1",
      address: "127.0.0.1:9090",
      httpAddress: "127.0.0.1:8080",
      startTime: new Date().toISOString(),
    },
    registerTtlSeconds: options.ttlSeconds ?? 5,
    logger: silentLogger,
  });
  const controller = new AbortController();
  const running = worker.run(controller.signal);
  const stop = async () => {
    controller.abort();
    await running;
  };
  const put = (
    name: string,
    id: string,
    node: string,
    spec?: ResourceSpec["Spec"],
    placements?: string[],
  ) =>
    store.put(
      resourceKey(name),
      encodeResourceSpec({
        ID: id,
        Name: name,
        AssignedNode: node,
        Placements: placements,
        CreationTime: 1,
        Spec: spec,
      }),
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
    await waitFor(() => t.worker.ready, { what: "registration" });
    const registered = await t.store.get(workerKey("crawler.worker-1"));
    assert.ok(registered?.lease, "registered on a lease");
    assert.equal(JSON.parse(registered.value).address, "127.0.0.1:9090");

    await t.put("mine", "1", ME, t.spec);
    await t.put("theirs", "2", OTHER, t.spec);
    await waitFor(() => t.crawler.run("mine")?.stats.fetched! > 0, { what: "task start" });
    assert.equal(t.crawler.run("theirs"), undefined);
    assert.deepEqual(t.worker.status().map((s) => [s.name, s.state]), [["mine", "running"]]);
  } finally {
    await t.close();
  }
});

Deno.test("cluster worker starts a task once even when the same put is seen again", async () => {
  const t = await setup();
  try {
    await waitFor(() => t.worker.ready, { what: "registration" });
    await t.put("mine", "1", ME, t.spec);
    await waitFor(() => t.crawler.run("mine") !== undefined, { what: "task start" });
    const run = t.crawler.run("mine");
    await t.put("mine", "1", ME, t.spec);
    // Nothing may happen for a while: 100 ms is many watch events.
    await holdsFor(() => t.crawler.run("mine") === run, { what: "the same run", forMs: 100 });
    assert.equal(t.site.requests.get("/"), 1, "the root was fetched once");
  } finally {
    await t.close();
  }
});

Deno.test("cluster worker stops a task that is deleted or moved away, promptly", async () => {
  const t = await setup();
  try {
    await waitFor(() => t.worker.ready, { what: "registration" });
    await t.put("a", "1", ME, t.spec);
    await t.put("b", "2", ME, { ...t.spec, url: `${t.site.url}/` });
    await waitFor(() => !!t.crawler.run("a") && !!t.crawler.run("b"), { what: "both start" });
    await t.store.delete(resourceKey("a"));
    await t.put("b", "2", OTHER, t.spec);
    await waitFor(() => !t.crawler.run("a") && !t.crawler.run("b"), {
      what: "both stop",
      timeoutMs: 1000,
    });
    const before = t.site.log.length;
    // Nothing is fetched for a while (the site answers in 30 ms).
    await holdsFor(() => t.site.log.length === before, {
      what: "no request after the stop",
      forMs: 200,
    });
    assert.deepEqual(t.worker.status(), []);
  } finally {
    await t.close();
  }
});

Deno.test("cluster worker starts a task afresh when it is added again", async () => {
  const t = await setup();
  try {
    await waitFor(() => t.worker.ready, { what: "registration" });
    await t.put("again", "1", ME, t.spec);
    await waitFor(() => t.crawler.run("again")?.stats.fetched! > 0, { what: "start" });
    await t.store.delete(resourceKey("again"));
    await waitFor(() => !t.crawler.run("again"), { what: "stop" });
    await t.put("again", "7", ME, t.spec);
    await waitFor(() => t.crawler.run("again")?.stats.fetched! > 0, { what: "restart" });
    assert.equal(t.site.requests.get("/"), 2, "the root is fetched again: a fresh visited set");
  } finally {
    await t.close();
  }
});

Deno.test("cluster worker runs config presets and reports a task it does not know", async () => {
  const t = await setup();
  try {
    await waitFor(() => t.worker.ready, { what: "registration" });
    await t.put("no_such_task", "1", ME);
    await t.put("preset_books", "2", ME);
    await waitFor(() => t.crawler.run("preset_books")?.stats.fetched! > 0, {
      what: "preset start",
    });
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
    await waitFor(() => t.worker.status()[0]?.state === "finished", {
      what: "the early task to finish",
    });
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
    await waitFor(() => t.worker.ready, { what: "registration" });
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
    await waitFor(() => t.worker.status()[0]?.state === "finished", { what: "the task to finish" });
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
    await waitFor(() => t.worker.ready, { what: "registration" });
    // Loaded paused at start: assigned, shown paused, not run.
    assert.deepEqual(t.worker.status().map((s) => [s.name, s.state]), [["asleep", "paused"]]);
    assert.equal(t.crawler.run("asleep"), undefined);

    await t.put("busy", "2", ME, t.spec);
    await waitFor(() => t.crawler.run("busy")?.stats.fetched! > 0, { what: "busy runs" });
    await putPaused("busy", "2", true);
    await waitFor(() => !t.crawler.run("busy"), { what: "busy stops", timeoutMs: 1000 });
    const before = t.site.log.length;
    // Nothing is fetched for a while (the site answers in 30 ms).
    await holdsFor(() => t.site.log.length === before, {
      what: "nothing fetched for a paused task",
      forMs: 200,
    });
    assert.deepEqual(t.worker.status().map((s) => [s.name, s.state]).sort(), [
      ["asleep", "paused"],
      ["busy", "paused"],
    ]);

    await putPaused("asleep", "1", false);
    await waitFor(() => t.crawler.run("asleep")?.stats.fetched! > 0, {
      what: "asleep runs on resume",
    });
    assert.equal(t.worker.status().find((s) => s.name === "asleep")?.state, "running");
  } finally {
    await t.close();
  }
});

/** A claim by another worker, on a lease the test holds. */
async function claimAsOther(store: EmbeddedStore, task: string): Promise<Lease> {
  const lease = await store.grantLease(30);
  await lease.put(
    claimKey(task, "crawler.worker-2"),
    JSON.stringify({ worker: "crawler.worker-2", resource: "1", since: new Date().toISOString() }),
  );
  return lease;
}

Deno.test("a task moved here waits while the worker it left still claims it", async () => {
  const t = await setup();
  try {
    await waitFor(() => t.worker.ready, { what: "registration" });
    const other = await claimAsOther(t.store, "moved");
    await t.put("moved", "1", ME, t.spec);
    await waitFor(() => t.worker.status()[0]?.state === "claiming", { what: "the claim wait" });
    // Nothing is fetched for a while, the other claim living on.
    await holdsFor(() => t.site.log.length === 0, {
      what: "nothing fetched while the other claim lives",
      forMs: 300,
    });
    assert.ok(await t.store.get(claimKey("moved", "crawler.worker-1")), "its own claim is there");
    await t.store.delete(claimKey("moved", "crawler.worker-2")); // the old worker let go
    await waitFor(() => t.worker.status()[0]?.state === "running", { what: "the start" });
    await waitFor(() => t.site.log.length > 0, { what: "a fetch" });
    await other.revoke();
  } finally {
    await t.close();
  }
});

Deno.test("a task placed on several workers runs beside the other placements' claims", async () => {
  const t = await setup();
  try {
    await waitFor(() => t.worker.ready, { what: "registration" });
    const other = await claimAsOther(t.store, "shared");
    await t.put("shared", "1", ME, t.spec, [ME, OTHER]);
    await waitFor(() => t.worker.status()[0]?.state === "running", {
      what: "the start",
      timeoutMs: 1000,
    });
    await other.revoke();
  } finally {
    await t.close();
  }
});

Deno.test("a task that is stopped while it waits for a claim never starts", async () => {
  const t = await setup();
  try {
    await waitFor(() => t.worker.ready, { what: "registration" });
    const other = await claimAsOther(t.store, "doomed");
    await t.put("doomed", "1", ME, t.spec);
    await waitFor(() => t.worker.status()[0]?.state === "claiming", { what: "the claim wait" });
    await t.store.delete(resourceKey("doomed"));
    await waitFor(() => t.worker.status().length === 0, { what: "the task to go" });
    await t.store.delete(claimKey("doomed", "crawler.worker-2"));
    // The claim is gone and so is the task: nothing is fetched for a while.
    await holdsFor(() => t.site.log.length === 0, { what: "never fetched", forMs: 200 });
    assert.equal(await t.store.get(claimKey("doomed", "crawler.worker-1")), undefined);
    await other.revoke();
  } finally {
    await t.close();
  }
});

Deno.test("a stopped task gives up its claim; a running one holds it on the registration lease", async () => {
  const t = await setup();
  try {
    await waitFor(() => t.worker.ready, { what: "registration" });
    await t.put("held", "1", ME, t.spec);
    await waitFor(() => t.worker.status()[0]?.state === "running", { what: "the start" });
    const claim = await t.store.get(claimKey("held", "crawler.worker-1"));
    const registration = await t.store.get(workerKey("crawler.worker-1"));
    assert.equal(claim?.lease, registration?.lease);
    await t.put("held", "1", OTHER, t.spec);
    await waitFor(() => t.worker.status().length === 0, { what: "the stop" });
    await waitFor(async () => !await t.store.get(claimKey("held", "crawler.worker-1")), {
      what: "the claim to be released",
      timeoutMs: 500,
    });
  } finally {
    await t.close();
  }
});

/**
 * A lease whose keep-alives the test controls: while `flowing` it is confirmed every 50 ms for
 * another TTL (as acknowledged keep-alives do); `late()` stops that, as when etcd is away,
 * and `renew()` starts it again. Keys go to the real lease.
 */
class LateableLease implements Lease {
  aliveUntil: number;
  readonly #listeners = new Set<() => void>();
  readonly #timer: ReturnType<typeof setInterval>;
  #flowing = true;
  constructor(readonly inner: Lease) {
    this.aliveUntil = Date.now() + inner.ttlSeconds * 1000;
    this.#timer = setInterval(() => {
      if (this.#flowing) this.renew();
    }, 50);
  }
  get id() {
    return this.inner.id;
  }
  get ttlSeconds() {
    return this.inner.ttlSeconds;
  }
  get signal() {
    return this.inner.signal;
  }
  late(): void {
    this.#flowing = false;
  }
  renew(): void {
    this.#flowing = true;
    this.aliveUntil = Date.now() + this.inner.ttlSeconds * 1000;
    for (const listener of this.#listeners) listener();
  }
  onRenewed(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  put(key: string, value: string) {
    return this.inner.put(key, value);
  }
  revoke() {
    clearInterval(this.#timer);
    return this.inner.revoke();
  }
}

Deno.test("a worker stops every task when its lease may have expired and resumes once it is renewed", async () => {
  const leases: LateableLease[] = [];
  const t = await setup({
    ttlSeconds: 1,
    wrap: (store) =>
      new Proxy(store, {
        get(target, property) {
          if (property === "grantLease") {
            return async (ttl: number) => {
              const lease = new LateableLease(await target.grantLease(ttl));
              leases.push(lease);
              return lease;
            };
          }
          const value = Reflect.get(target, property);
          return typeof value === "function" ? value.bind(target) : value;
        },
      }) as Store,
  });
  try {
    await waitFor(() => t.worker.ready, { what: "registration" });
    await t.put("fenced", "1", ME, t.spec);
    await waitFor(() => t.crawler.run("fenced")?.stats.fetched! > 0, { what: "the start" });
    leases[0].late();
    const lateAt = Date.now();
    await waitFor(() => t.crawler.run("fenced") === undefined, {
      what: "the fence",
      timeoutMs: 1500,
    });
    // The margin (200 ms) before the 1 s TTL the lease was last confirmed for.
    assert.ok(Date.now() - lateAt < 1000 - 200 + 200, `fenced after ${Date.now() - lateAt} ms`);
    assert.equal(t.worker.mayRun(), false);
    assert.equal(t.worker.ready, false);
    const requests = t.site.log.length;
    // Fenced: nothing is fetched for a while (the site answers in 30 ms).
    await holdsFor(() => t.site.log.length === requests, {
      what: "no request while fenced",
      forMs: 200,
    });
    leases[0].renew();
    await waitFor(() => t.crawler.run("fenced")?.stats.fetched! > 0, {
      what: "the resume",
      timeoutMs: 2000,
    });
    assert.equal(leases.length, 1, "the same lease: no new registration");
    // Started again, the task goes on with its crawl from the frontier.
    assert.equal((await t.crawler.run("fenced")!.opened).mode, "resumed");
  } finally {
    await t.close();
  }
});

Deno.test("a claim that outlives its lease's TTL holds a task back only that long", async () => {
  const t = await setup({ ttlSeconds: 1 });
  try {
    await waitFor(() => t.worker.ready, { what: "registration" });
    const other = await claimAsOther(t.store, "stuck"); // kept alive: it never lets go
    const assignedAt = Date.now();
    await t.put("stuck", "1", ME, t.spec);
    await waitFor(() => t.worker.status()[0]?.state === "claiming", { what: "the claim wait" });
    await waitFor(() => t.worker.status()[0]?.state === "running", {
      what: "the start",
      timeoutMs: 4000,
    });
    const waited = Date.now() - assignedAt;
    // The TTL (1 s) plus a second for clock skew, and not much more.
    assert.ok(waited >= 2000 && waited < 3000, `started after ${waited} ms`);
    await other.revoke();
  } finally {
    await t.close();
  }
});

Deno.test("claims from a worker's previous life are released, but not those of tasks still its own", async () => {
  let previous: Lease | undefined;
  const t = await setup({
    beforeStart: async (store, siteUrl) => {
      previous = await store.grantLease(30); // as if the old process's lease still lived
      for (const task of ["gone", "kept"]) {
        await previous.put(
          claimKey(task, "crawler.worker-1"),
          JSON.stringify({
            worker: "crawler.worker-1",
            resource: "0",
            since: "2026-01-01T00:00:00Z",
          }),
        );
      }
      await store.put(
        resourceKey("kept"),
        encodeResourceSpec({
          ID: "1",
          Name: "kept",
          AssignedNode: ME,
          CreationTime: 1,
          Spec: { rule: "douban_book_list", url: `${siteUrl}/`, waitTime: 0, limits: [] },
        }),
      );
    },
  });
  try {
    await waitFor(() => t.worker.status()[0]?.state === "running", {
      what: "the kept task to run",
    });
    await waitFor(async () => !await t.store.get(claimKey("gone", "crawler.worker-1")), {
      what: "the claim of the gone task to be released",
      timeoutMs: 1000,
    });
    const kept = await t.store.get(claimKey("kept", "crawler.worker-1"));
    const registration = await t.store.get(workerKey("crawler.worker-1"));
    assert.equal(kept?.lease, registration?.lease, "re-claimed on the new registration lease");
    await previous?.revoke();
  } finally {
    await t.close();
  }
});
