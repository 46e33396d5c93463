import assert from "node:assert/strict";
import { addResourceBodySchema, deleteResourceBodySchema } from "./api_bodies.ts";
import { resourceKey, resourceNameFromKey, workerIdFromKey, workerKey } from "./keys.ts";
import { decodeResourceSpec, encodeResourceSpec, unixNanos } from "./resource_spec.ts";
import { isBuiltinTaskSpec } from "./task_spec.ts";
import { taskDefinitionFromSpec } from "../worker/task_resolver.ts";
import { decodeWorkerRegistration, encodeWorkerRegistration } from "./worker_registration.ts";

Deno.test("store keys are built and taken apart by the same helpers", () => {
  assert.equal(resourceKey("douban_book_list"), "/resources/douban_book_list");
  assert.equal(resourceNameFromKey("/resources/douban_book_list"), "douban_book_list");
  assert.equal(resourceNameFromKey("/resources/"), undefined);
  assert.equal(workerKey("crawler.worker-1"), "/crawler/workers/crawler.worker-1");
  assert.equal(workerIdFromKey("/crawler/workers/crawler.worker-1"), "crawler.worker-1");
  assert.equal(workerIdFromKey("/crawler/election/1"), undefined);
});

Deno.test("a resource value from the Go project decodes with its field names", () => {
  const goValue =
    '{"ID":"1609068436011356160","Name":"douban_book_list","AssignedNode":"go.micro.server.worker-1|192.168.0.105:9090","CreationTime":1672466784878532000}';
  const resource = decodeResourceSpec(goValue);
  assert.equal(resource.Name, "douban_book_list");
  assert.equal(resource.Spec, undefined);
  assert.deepEqual(decodeResourceSpec(encodeResourceSpec(resource)), resource);
  assert.throws(() => decodeResourceSpec('{"Name":"x"}'));
  assert.equal(unixNanos(1_700_000_000_123), 1_700_000_000_123_000_000);
});

Deno.test("a worker registration round-trips and is checked on read", () => {
  const registration = {
    id: "crawler.worker-1",
    address: "127.0.0.1:9090",
    httpAddress: "127.0.0.1:8080",
    startTime: "2024-01-02T03:04:05.000Z",
  };
  assert.deepEqual(decodeWorkerRegistration(encodeWorkerRegistration(registration)), registration);
  assert.throws(() =>
    decodeWorkerRegistration(
      '{"id":"a|b","address":"x","httpAddress":"y","startTime":"2024-01-02T03:04:05Z"}',
    )
  );
  assert.throws(() => decodeWorkerRegistration("not json"), SyntaxError);
});

Deno.test("api bodies accept the documented shapes and refuse unknown spec keys", () => {
  const body = addResourceBodySchema.parse({
    id: "zjx",
    name: "books_a",
    spec: {
      rule: "douban_book_list",
      url: "http://127.0.0.1:8088/a",
      limits: [{ eventCount: 1, eventDur: 2, bucket: 1 }],
    },
  });
  assert.ok(body.spec && isBuiltinTaskSpec(body.spec));
  assert.equal(body.spec.rule, "douban_book_list");
  assert.deepEqual(taskDefinitionFromSpec(body.name, body.spec!), {
    name: "books_a",
    rule: "douban_book_list",
    url: "http://127.0.0.1:8088/a",
    waitTime: undefined,
    maxDepth: undefined,
    reload: undefined,
    cookie: undefined,
    limits: [{ eventCount: 1, eventDur: 2, bucket: 1 }],
  });
  assert.equal(
    addResourceBodySchema.safeParse({ name: "x", spec: { rule: "r", rules: [] } }).success,
    false,
  );
  assert.equal(deleteResourceBodySchema.safeParse({ name: "a/b" }).success, false);
  assert.equal(deleteResourceBodySchema.safeParse({ name: "书籍" }).success, true);
});

Deno.test("a spec's recrawl travels as written and becomes the task's and its rules' policies", () => {
  const body = addResourceBodySchema.parse({
    name: "shop",
    spec: {
      url: "http://127.0.0.1:8088/",
      recrawl: { interval: "24h", min: "1h", max: "14d", adaptive: true },
      rules: { list: { recrawl: { interval: "15m" } } },
    },
  });
  const stored = decodeResourceSpec(encodeResourceSpec({
    ID: "1",
    Name: body.name,
    AssignedNode: "",
    CreationTime: 0,
    Spec: body.spec,
  }));
  assert.deepEqual(stored.Spec, body.spec, "stored in etcd as the caller wrote it");
  const definition = taskDefinitionFromSpec("shop", stored.Spec!);
  assert.deepEqual(definition.recrawl, {
    intervalMs: 86_400_000,
    minMs: 3_600_000,
    maxMs: 14 * 86_400_000,
    adaptive: true,
  });
  assert.equal(definition.ruleSet?.recrawl?.list.intervalMs, 900_000);
  const builtin = taskDefinitionFromSpec("books", { rule: "douban_book_list", recrawl: {} });
  assert.equal(builtin.recrawl?.intervalMs, 86_400_000);
});

Deno.test("a bad recrawl in an add body fails on the key, as a 400 names it", () => {
  const issues = (spec: unknown) => {
    const result = addResourceBodySchema.safeParse({ name: "x", spec });
    return result.success ? [] : result.error.issues.map((i) => [i.path.join("."), i.message]);
  };
  assert.deepEqual(issues({ rule: "r", recrawl: { interval: "1 day" } }), [[
    "spec.recrawl.interval",
    '"1 day" is not a duration: write it as "90s", "15m", "24h", "14d" or milliseconds',
  ]]);
  assert.deepEqual(
    issues({ url: "http://a.test/", rules: { p: { recrawl: { min: "2d", max: "1d" } } } }),
    [["spec.rules.p.recrawl.min", "recrawl min (2d) is above max (1d)"]],
  );
});
