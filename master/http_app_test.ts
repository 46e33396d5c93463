import assert from "node:assert/strict";
import { silentLogger } from "../log/logger.ts";
import { resourceKey } from "../proto/keys.ts";
import { decodeResourceSpec } from "../proto/resource_spec.ts";
import { builtinRuleSets } from "../rulesets/mod.ts";
import { type EmbeddedStore, openEmbeddedStore } from "../store/embedded_store.ts";
import { createApp } from "./http_app.ts";
import { Master } from "./master.ts";
import { MasterMetrics } from "./metrics.ts";
import { parsePrometheusText } from "../metrics/_prometheus_text.ts";
import { registerWorker } from "./_testing.ts";
import { waitFor } from "../tests/kit/wait.ts";

const MASTER_ID = "master1-127.0.0.1:9091";
const spec = { rule: "douban_book_list" };

interface Fixture extends AsyncDisposable {
  store: EmbeddedStore;
  master: Master;
  app: ReturnType<typeof createApp>;
}

/** A leader over an embedded store with `workers` registered, and its app. */
async function leaderApp(
  options: { workers?: string[]; presets?: string[]; start?: boolean; requestTimeoutMs?: number } =
    {},
): Promise<Fixture> {
  const store = await openEmbeddedStore({ logger: silentLogger });
  for (const [i, id] of (options.workers ?? ["crawler.worker-1"]).entries()) {
    await registerWorker(store, id, { port: 9090 + i });
  }
  const master = new Master({
    store,
    id: MASTER_ID,
    electionTtlSeconds: 5,
    ruleSets: builtinRuleSets().keys(),
    presets: options.presets ?? ["books_a"],
    requestTimeoutMs: options.requestTimeoutMs,
    logger: silentLogger,
  });
  if (options.start ?? true) {
    master.start();
    await waitFor(() => master.isLeader, { what: "leadership" });
  }
  const app = createApp({ master, metrics: new MasterMetrics(), logger: silentLogger });
  return {
    store,
    master,
    app,
    async [Symbol.asyncDispose]() {
      await master.stop();
      await store.close();
    },
  };
}

function send(app: Fixture["app"], method: string, body?: string, headers?: HeadersInit) {
  return app.request("/crawler/resource", { method, body, headers });
}

async function json(response: Response): Promise<Record<string, unknown>> {
  assert.match(response.headers.get("content-type") ?? "", /application\/json/);
  return await response.json();
}

Deno.test("adding a built-in task assigns it to a worker, and GET lists it", async () => {
  await using f = await leaderApp({ presets: [] });
  const added = await send(f.app, "POST", JSON.stringify({ id: "zjx", name: "douban_book_list" }));
  assert.equal(added.status, 200);
  assert.deepEqual(await json(added), { id: "crawler.worker-1", Address: "127.0.0.1:9090" });

  const listed = await json(await f.app.request("/crawler/resource"));
  const resources = listed.resources as Array<Record<string, unknown>>;
  assert.equal(resources.length, 1);
  assert.equal(resources[0].Name, "douban_book_list");
  assert.equal(resources[0].AssignedNode, "crawler.worker-1|127.0.0.1:9090");
  assert.match(String(resources[0].ID), /^\d{15,}$/);

  const workers = await json(await f.app.request("/crawler/workers"));
  assert.deepEqual(
    (workers.workers as Array<Record<string, unknown>>).map((w) => [w.id, w.address, w.payload]),
    [["crawler.worker-1", "127.0.0.1:9090", 1]],
  );
});

Deno.test("bad bodies are 400 with a message naming the field", async () => {
  await using f = await leaderApp();
  const cases: Array<[unknown, RegExp]> = [
    [{}, /^name: required \(expected string\)$/],
    [{ name: 7 }, /^name: .*expected string, received number/],
    [{ name: "" }, /^name: must not be empty/],
    [{ name: "a/b" }, /^name: must not contain '\/'/],
    [[], /^body: .*expected object, received array/],
    [{ name: "x", spec: { url: "http://127.0.0.1/" } }, /^spec\.rule: required/],
    [{ name: "x", spec: { rule: "douban_book_list", url: "not a url" } }, /^spec\.url: /],
    [
      { name: "x", spec: { rule: "douban_book_list", rules: {} } },
      /^spec: Unrecognized key: "rule"/,
    ],
    [
      {
        name: "x",
        spec: { rule: "douban_book_list", limits: [{ eventCount: 0, eventDur: 1, bucket: 1 }] },
      },
      /^spec\.limits\[0\]\.eventCount: /,
    ],
    [
      { name: "x", spec: { rule: "no_such_rules" } },
      /^spec\.rule: unknown rule set "no_such_rules" \(built-in: douban_book_list, find_douban_sun_room\)$/,
    ],
  ];
  for (const [body, message] of cases) {
    const response = await send(f.app, "POST", JSON.stringify(body));
    assert.equal(response.status, 400, JSON.stringify(body));
    assert.match(String((await json(response)).error), message, JSON.stringify(body));
  }
  const badDelete = await send(f.app, "DELETE", JSON.stringify({ nom: "x" }));
  assert.equal(badDelete.status, 400);
  assert.match(String((await json(badDelete)).error), /^name: required/);
});

Deno.test("malformed JSON and empty bodies are 400", async () => {
  await using f = await leaderApp();
  for (const [method, body] of [["POST", '{"name": '], ["POST", ""], ["DELETE", "name=x"]]) {
    const response = await send(f.app, method, body);
    assert.equal(response.status, 400, `${method} ${body}`);
    assert.match(String((await json(response)).error), /^body: (not valid JSON|required)/);
  }
});

Deno.test("a body over 64 KiB is 413, declared or streamed", async () => {
  await using f = await leaderApp();
  const big = JSON.stringify({ name: "x", id: "y".repeat(70 * 1024) });
  const declared = await send(f.app, "POST", big, { "content-length": String(big.length) });
  assert.equal(declared.status, 413);
  assert.match(String((await json(declared)).error), /larger than 65536 bytes/);
  const streamed = await f.app.request("/crawler/resource", {
    method: "POST",
    body: ReadableStream.from([new TextEncoder().encode(big)]),
  });
  assert.equal(streamed.status, 413);
  await streamed.body?.cancel();
  // The master keeps serving.
  assert.equal(
    (await send(f.app, "POST", JSON.stringify({ name: "douban_book_list" }))).status,
    200,
  );
});

Deno.test("without an idempotency key adding a name that exists is 409 and deleting a missing one 404, whatever the id", async () => {
  await using f = await leaderApp({ presets: [] });
  // The Go lesson's client sends the same `id` with every add: it identifies nothing.
  const body = JSON.stringify({ id: "zjx", name: "douban_book_list" });
  assert.equal((await send(f.app, "POST", body)).status, 200);
  const again = await send(f.app, "POST", body);
  assert.equal(again.status, 409);
  assert.equal((await json(again)).error, 'resource "douban_book_list" already exists');

  const deleted = await send(f.app, "DELETE", JSON.stringify({ name: "douban_book_list" }));
  assert.equal(deleted.status, 200);
  assert.deepEqual(await json(deleted), {});
  assert.equal(await f.store.get(resourceKey("douban_book_list")), undefined);
  // Deleted a moment ago or never added: a delete of a missing name is 404 either way.
  const repeated = await send(f.app, "DELETE", JSON.stringify({ name: "douban_book_list" }));
  assert.deepEqual([repeated.status, await json(repeated)], [404, {
    error: 'resource "douban_book_list" does not exist',
  }]);
  const missing = await send(f.app, "DELETE", JSON.stringify({ name: "never_added" }));
  assert.equal(missing.status, 404);
  assert.equal((await json(missing)).error, 'resource "never_added" does not exist');
});

Deno.test("a write repeated with its Idempotency-Key answers what the first answered; a key reused with another body is 422", async () => {
  await using f = await leaderApp({
    presets: [],
    workers: ["crawler.worker-1", "crawler.worker-2"],
  });
  const keyed = (key: string) => ({ "Idempotency-Key": key });
  const add = JSON.stringify({ id: "zjx", name: "douban_book_list" });
  const first = await send(f.app, "POST", add, keyed("add-1"));
  assert.equal(first.status, 200);
  const placed = await json(first);
  // Another add moves "least loaded" on: a repeat must answer the first placement, not a new one.
  assert.equal((await send(f.app, "POST", JSON.stringify({ name: "books_b", spec }))).status, 200);
  const repeated = await send(f.app, "POST", add, keyed("add-1"));
  assert.deepEqual([repeated.status, await json(repeated)], [200, placed]);
  // Without the key, or with another one, the same body is a new add: a conflict.
  assert.equal((await send(f.app, "POST", add)).status, 409);
  assert.equal((await send(f.app, "POST", add, keyed("add-2"))).status, 409);
  // The refusal is what "add-2" answered: it stays the answer after the name is gone.
  const remove = JSON.stringify({ name: "douban_book_list" });
  const deleted = await send(f.app, "DELETE", remove, keyed("delete-1"));
  assert.deepEqual([deleted.status, await json(deleted)], [200, {}]);
  const conflict = await send(f.app, "POST", add, keyed("add-2"));
  assert.deepEqual([conflict.status, await json(conflict)], [409, {
    error: 'resource "douban_book_list" already exists',
  }]);
  const deletedAgain = await send(f.app, "DELETE", remove, keyed("delete-1"));
  assert.deepEqual([deletedAgain.status, await json(deletedAgain)], [200, {}]);
  assert.equal((await send(f.app, "DELETE", remove)).status, 404);

  // One key, one write: another body (or another operation) under it is refused, and changes nothing.
  for (
    const [method, body] of [
      ["POST", JSON.stringify({ id: "zjx", name: "douban_book_list", spec })],
      ["DELETE", JSON.stringify({ name: "douban_book_list" })],
    ]
  ) {
    const reused = await send(f.app, method, body, keyed("add-1"));
    assert.equal(reused.status, 422, method);
    assert.match(
      String((await json(reused)).error),
      /^idempotency key "add-1" was used for a different request in the last 10 min/,
    );
  }
  assert.equal(await f.store.get(resourceKey("douban_book_list")), undefined);
  const bad = await send(f.app, "POST", add, keyed("has spaces"));
  assert.deepEqual([bad.status, (await json(bad)).error], [
    400,
    "Idempotency-Key: must be visible ASCII characters only (no spaces)",
  ]);
});

Deno.test("an unknown preset is 404, a config preset is accepted", async () => {
  await using f = await leaderApp({ presets: [] });
  const unknown = await send(f.app, "POST", JSON.stringify({ name: "no_such_task" }));
  assert.equal(unknown.status, 404);
  assert.match(
    String((await json(unknown)).error),
    /^unknown task "no_such_task": .*send a "spec"/,
  );
  await using g = await leaderApp({ presets: ["books_a"] });
  // The preset was added when the master became leader: adding it again is a conflict.
  await waitFor(async () => (await g.store.get(resourceKey("books_a"))) !== undefined, {
    what: "the preset written",
  });
  assert.equal((await send(g.app, "POST", JSON.stringify({ name: "books_a" }))).status, 409);
});

Deno.test("a task with an inline spec is stored with its spec", async () => {
  await using f = await leaderApp();
  const spec = { rule: "douban_book_list", url: "http://127.0.0.1:8088/a", maxDepth: 2 };
  const response = await send(f.app, "POST", JSON.stringify({ name: "books_b", spec }));
  assert.equal(response.status, 200);
  const stored = await f.store.get(resourceKey("books_b"));
  assert.deepEqual(decodeResourceSpec(stored!.value).Spec, spec);
});

Deno.test("a task with a declarative rule set is stored; a bad one is a 400 naming the key", async () => {
  await using f = await leaderApp();
  const spec = {
    url: "http://127.0.0.1:8088/",
    maxDepth: 3,
    rules: {
      page: {
        links: [{ rule: "page", sameHost: true }],
        output: { fields: { title: { regex: "<title>([^<]*)</title>" } } },
      },
    },
  };
  const response = await send(f.app, "POST", JSON.stringify({ name: "site", spec }));
  assert.equal(response.status, 200);
  const stored = await f.store.get(resourceKey("site"));
  assert.deepEqual(decodeResourceSpec(stored!.value).Spec, spec);

  const cases: Array<[unknown, RegExp]> = [
    [
      { ...spec, rules: { page: { links: [{ selector: "a[href", rule: "page" }] } } },
      /spec\.rules\.page\.links\[0\]\.selector: invalid selector/,
    ],
    [
      { ...spec, rules: { page: { links: [{ regex: "(", rule: "page" }] } } },
      /spec\.rules\.page\.links\[0\]\.regex/,
    ],
    [
      { ...spec, rules: { page: { links: [{ rule: "item" }] } } },
      /spec\.rules\.page\.links\[0\]\.rule: unknown rule "item"/,
    ],
  ];
  for (const [bad, expected] of cases) {
    const answer = await send(f.app, "POST", JSON.stringify({ name: "bad", spec: bad }));
    assert.equal(answer.status, 400);
    assert.match(String((await json(answer)).error), expected);
  }
  assert.equal(await f.store.get(resourceKey("bad")), undefined);
});

Deno.test("with no worker registered an add is 503", async () => {
  await using f = await leaderApp({ workers: [], presets: [] });
  const response = await send(f.app, "POST", JSON.stringify({ name: "douban_book_list" }));
  assert.equal(response.status, 503);
  assert.match(String((await json(response)).error), /no worker/);
});

Deno.test("leader, health, readiness and metrics answer on the leader", async () => {
  await using f = await leaderApp();
  await waitFor(async () => (await f.store.get(resourceKey("books_a"))) !== undefined, {
    what: "the preset written",
  });
  assert.deepEqual(await json(await f.app.request("/crawler/leader")), {
    leader: MASTER_ID,
    self: MASTER_ID,
    isLeader: true,
  });
  assert.equal((await f.app.request("/healthz")).status, 200);
  assert.equal((await f.app.request("/readyz")).status, 200);
  await send(f.app, "POST", "{");
  const metrics = await f.app.request("/metrics");
  assert.equal(metrics.status, 200);
  const text = await metrics.text();
  const families = parsePrometheusText(text);
  assert.equal(families.get("crawler_master_http_requests_total")?.type, "counter");
  assert.ok(families.get("process_resident_memory_bytes")!.samples[0].value > 0);
  assert.match(text, /^crawler_master_is_leader 1$/m);
  assert.match(text, /^crawler_master_workers 1$/m);
  assert.match(text, /^crawler_master_resources 1$/m); // the preset
  assert.match(
    text,
    /^crawler_master_http_requests_total\{method="POST",route="\/crawler\/resource",status="400"\} 1$/m,
  );
});

Deno.test("without a leader writes are 503 and the master is not ready", async () => {
  // A write waits for a leader as long as the request timeout allows: half a second here.
  await using f = await leaderApp({ start: false, requestTimeoutMs: 500 });
  const response = await send(f.app, "POST", JSON.stringify({ name: "douban_book_list" }));
  assert.equal(response.status, 503);
  assert.match(String((await json(response)).error), /no leader/);
  assert.equal((await f.app.request("/readyz")).status, 503);
  assert.deepEqual(await json(await f.app.request("/crawler/leader")), {
    leader: null,
    self: MASTER_ID,
    isLeader: false,
  });
  // Bad input is still refused first, with the same 400.
  assert.equal((await send(f.app, "POST", "[]")).status, 400);
});

Deno.test("an unknown route is a JSON 404", async () => {
  await using f = await leaderApp({ start: false });
  const response = await f.app.request("/nope");
  assert.equal(response.status, 404);
  assert.deepEqual(await json(response), { error: "no route for GET /nope" });
});
