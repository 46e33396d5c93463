import assert from "node:assert/strict";
import { loadConfig, parseConfig } from "./load_config.ts";
import { ConfigError } from "../errors/mod.ts";
import { taskDefinitionFromConfig } from "./task_config.ts";

Deno.test("config reads the Go project's config.toml layout", () => {
  const config = parseConfig(`
logLevel = "debug"
Tasks = [
  {Name = "douban_book_list", WaitTime = 2, Reload = true, MaxDepth = 5, Fetcher = "browser",
   Limits = [{EventCount = 1, EventDur = 2, Bucket = 1}, {EventCount = 20, EventDur = 60, Bucket = 20}],
   Cookie = "bid=x"},
  {Name = "books_a", Rule = "douban_book_list", URL = "http://127.0.0.1:8088/a"},
]
[fetcher]
timeout = 3000
proxy = ["http://127.0.0.1:8888"]
[storage]
sqlURL = "sqlite:data/crawler.db"
[GRPCServer]
HTTPListenAddress = ":8080"
GRPCListenAddress = ":9090"
ID = "1"
RegistryAddress = "127.0.0.1:2379"
RegisterTTL = 60
RegisterInterval = 15
ClientTimeOut = 10
Name = "crawler.worker"
[MasterServer]
RegistryAddress = "127.0.0.1:2379"
RegisterTTL = 60
RegisterInterval = 15
ClientTimeOut = 10
Name = "crawler.master"
`);
  assert.equal(config.logLevel, "debug");
  assert.equal(config.Tasks.length, 2);
  assert.deepEqual(config.Tasks[0].Limits, [
    { EventCount: 1, EventDur: 2, Bucket: 1 },
    { EventCount: 20, EventDur: 60, Bucket: 20 },
  ]);
  assert.equal(config.Tasks[1].Rule, "douban_book_list");
  assert.deepEqual(config.fetcher.proxy, ["http://127.0.0.1:8888"]);
  assert.equal(config.GRPCServer.ID, "1");
  assert.equal(config.MasterServer.Name, "crawler.master");
});

Deno.test("config fills defaults for an empty file", () => {
  const config = parseConfig("");
  assert.deepEqual(config.Tasks, []);
  assert.equal(config.fetcher.timeout, 3000);
  assert.equal(config.storage.sqlURL, "sqlite:data/crawler.db");
  assert.equal(config.GRPCServer.RegisterTTL, 60);
  assert.equal(config.GRPCServer.Name, "crawler.worker");
  assert.equal(config.MasterServer.ElectionTTL, 5, "the Go project's election session TTL");
});

Deno.test("config errors name the key and say what was expected", () => {
  const cases: Array<[string, RegExp]> = [
    [`Tasks = [{Name = "a", MaxDepth = "deep"}]`, /^Tasks\[0\]\.MaxDepth: .*expected number/],
    [`Tasks = [{WaitTime = 1}]`, /^Tasks\[0\]\.Name: /],
    [
      `Tasks = [{Name = "a", Limits = [{EventCount = 0, EventDur = 1, Bucket = 1}]}]`,
      /^Tasks\[0\]\.Limits\[0\]\.EventCount: /,
    ],
    [`[fetcher]\ntimeout = -1`, /^fetcher\.timeout: /],
    [`[fetcher]\nproxy = ["not a url"]`, /^fetcher\.proxy\[0\]: /],
    [`[storage]\nsqlURL = "mysql://x"`, /^storage\.sqlURL: expected sqlite:PATH/],
    [`logLevel = "loud"`, /^logLevel: /],
    [`[politeness]\ndelayMs = -1`, /^politeness\.delayMs: /],
    [`[politeness]\nperHostConcurrency = 0`, /^politeness\.perHostConcurrency: /],
    [`[politeness]\nmaxBackoffMs = "long"`, /^politeness\.maxBackoffMs: .*expected number/],
    [`[fetcher]\nuserAgent = " "`, /^fetcher\.userAgent: /],
    [`Tasks = [{Name = "a", Robots = "no"}]`, /^Tasks\[0\]\.Robots: .*expected boolean/],
    [
      `Tasks = [{Name = "a", Politeness = {DelayMs = 1.5}}]`,
      /^Tasks\[0\]\.Politeness\.DelayMs: /,
    ],
    [
      `Tasks = [{Name = "a", Politeness = {Delay = 1}}]`,
      /^Tasks\[0\]\.Politeness: .*Delay/,
    ],
    [`Tasks = [`, /not valid TOML/],
  ];
  for (const [text, expected] of cases) {
    assert.throws(() => parseConfig(text), (error: unknown) => {
      assert.ok(error instanceof ConfigError, `${text} → ${error}`);
      assert.match(error.message, expected);
      return true;
    });
  }
});

Deno.test("politeness is on by default, with the keys' defaults, and tasks override it", () => {
  const config = parseConfig(`
Tasks = [{Name = "a", Robots = false, Politeness = {DelayMs = 500, PerHostConcurrency = 2}, RandomUserAgent = true}]
`);
  assert.deepEqual(config.politeness, {
    delayMs: 0,
    perHostConcurrency: 8,
    robotsCacheMs: 86_400_000,
    maxBackoffMs: 300_000,
  });
  assert.match(config.fetcher.userAgent, /^crawler\/[\d.]+ \(\+https?:\/\/.+\)$/);
  assert.deepEqual(taskDefinitionFromConfig(config.Tasks[0]).politeness, {
    robots: false,
    delayMs: 500,
    perHostConcurrency: 2,
    randomUserAgent: true,
  });
});

Deno.test("a missing config file is an error only when it was asked for", async () => {
  const missing = `${await Deno.makeTempDir()}/nope.toml`;
  assert.deepEqual((await loadConfig(missing)).Tasks, []);
  await assert.rejects(loadConfig(missing, { required: true }), /--config: cannot read/);
});

Deno.test("the repo's default config adds no task, so `deno task dev` starts clean", async () => {
  const config = await loadConfig(new URL("../config.toml", import.meta.url).pathname);
  assert.deepEqual(config.Tasks, []);
  const douban = await loadConfig(new URL("../examples/douban.toml", import.meta.url).pathname);
  assert.deepEqual(douban.Tasks.map((t) => t.Name), ["douban_book_list"]);
});

Deno.test("Tasks[].Workers above 1 needs a shared frontier: the error names the key and says why", () => {
  const wide = `Tasks = [{Name = "books", Rule = "douban_book_list", Workers = 2}]\n`;
  assert.throws(() => parseConfig(wide), (error: Error) => {
    assert.ok(error instanceof ConfigError);
    assert.match(error.message, /^Tasks\[0\]\.Workers: more than one worker needs a frontier/);
    assert.match(error.message, /frontier\.url is "sqlite:data\/frontier\.db"/);
    return true;
  });
  const shared = parseConfig(`${wide}[frontier]\nurl = "postgres://u:p@127.0.0.1:5432/crawl"\n`);
  assert.equal(shared.Tasks[0].Workers, 2);
  const master = parseConfig("").MasterServer;
  assert.deepEqual(
    [
      master.WorkerGrace,
      master.Rebalance,
      master.RebalanceInterval,
      master.RebalanceMaxMoves,
      master.IdempotencyWindow,
    ],
    [3, true, 2, 10, 600],
  );
});

Deno.test("parse.workers and parse.timeoutMs are read and checked", () => {
  const defaults = parseConfig("");
  assert.equal(defaults.parse.workers, undefined, "the pool picks from the cores");
  assert.equal(defaults.parse.timeoutMs, 10_000);
  const set = parseConfig(`[parse]\nworkers = 0\ntimeoutMs = 2500`);
  assert.deepEqual(set.parse, { workers: 0, timeoutMs: 2500 });
  const cases: Array<[string, RegExp]> = [
    [`[parse]\nworkers = -1`, /^parse\.workers: /],
    [`[parse]\nworkers = 1.5`, /^parse\.workers: /],
    [`[parse]\nworkers = 100`, /^parse\.workers: /],
    [`[parse]\ntimeoutMs = 0`, /^parse\.timeoutMs: /],
    [`[parse]\ntimeoutMs = "fast"`, /^parse\.timeoutMs: .*expected number/],
  ];
  for (const [text, expected] of cases) {
    assert.throws(() => parseConfig(text), (error: unknown) => {
      assert.ok(error instanceof ConfigError, `${text} → ${error}`);
      assert.match(error.message, expected);
      return true;
    });
  }
});
