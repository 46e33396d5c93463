import assert from "node:assert/strict";
import { createLogger, silentLogger } from "../log/logger.ts";
import { builtinRuleSets } from "../rulesets/mod.ts";
import type { Item } from "../spider/item.ts";
import type {
  ResultQuery,
  ResultReader,
  ResultRows,
  ResultValue,
} from "../storage/result_reader.ts";
import { SqliteResultReader } from "../storage/sqlite_result_reader.ts";
import { SqliteSink } from "../storage/sqlite_sink.ts";
import { openEmbeddedStore } from "../store/embedded_store.ts";
import { createWorkerApp } from "../worker/worker_app.ts";
import { NoResultsError } from "../errors/mod.ts";
import { createApp } from "./http_app.ts";
import { Master } from "./master.ts";
import { registerWorker } from "./_testing.ts";
import { waitFor } from "../tests/kit/wait.ts";
import { compareKeys, WorkerResultReader } from "./worker_result_reader.ts";

const TOKEN = "items-token";
const auth = { authorization: `Bearer ${TOKEN}` };

/** A leader with the resource "books" and its app reading items from `results`. */
async function itemsApp(results: ResultReader, logger = silentLogger) {
  const store = await openEmbeddedStore({ logger: silentLogger });
  await registerWorker(store, "crawler.worker-1");
  const master = new Master({
    store,
    id: "master1-127.0.0.1:9091",
    electionTtlSeconds: 5,
    ruleSets: builtinRuleSets().keys(),
    presets: [],
    logger: silentLogger,
  });
  master.start();
  await waitFor(() => master.isLeader, { what: "leadership" });
  await master.addResource({ name: "books", spec: { rule: "douban_book_list" } });
  const app = createApp({ master, token: TOKEN, results, logger });
  return {
    app,
    async [Symbol.asyncDispose]() {
      await master.stop();
      await store.close();
    },
  };
}

/**
 * A reader double: `pages` pages of 1,000 rows; it records the queries, and once the first page
 * is handed out it waits for `release` before the next one (`waiting` says it does).
 */
function blockingReader(pages = 3) {
  const state = { queries: [] as ResultQuery[], pagesRead: 0, waiting: false, cancelled: false };
  let release = () => {};
  const released = new Promise<void>((resolve) => release = resolve);
  const reader: ResultReader = {
    rows(task, query = {}) {
      state.queries.push(query);
      if (task !== "books") return Promise.reject(new NoResultsError(task));
      const rows: ResultRows = {
        columns: ["url", "n"],
        async *pages() {
          try {
            for (let p = 0; p < pages; p++) {
              if (p === 1) {
                state.waiting = true;
                await released;
                state.waiting = false;
              }
              state.pagesRead++;
              yield Array.from(
                { length: 1000 },
                (_, i): ResultValue[] => [`http://shop.test/${p * 1000 + i}`, p * 1000 + i],
              );
            }
          } finally {
            state.cancelled = state.pagesRead < pages;
          }
        },
      };
      return Promise.resolve(rows);
    },
    close: () => Promise.resolve(),
  };
  return { reader, state, release: () => release() };
}

Deno.test("the items route answers 401 without the token and 404 for an unknown task", async () => {
  const { reader } = blockingReader();
  await using f = await itemsApp(reader);
  const anonymous = await f.app.request("/crawler/resource/books/items");
  assert.equal(anonymous.status, 401);
  assert.deepEqual(await anonymous.json(), { error: "missing or invalid bearer token" });
  const unknown = await f.app.request("/crawler/resource/nope/items", { headers: auth });
  assert.equal(unknown.status, 404);
  assert.deepEqual(await unknown.json(), { error: 'resource "nope" does not exist' });
});

Deno.test("the items route streams: the first rows arrive before the table is read to its end", async () => {
  const { reader, state, release } = blockingReader(3);
  await using f = await itemsApp(reader);
  const response = await f.app.request("/crawler/resource/books/items?format=jsonl", {
    headers: auth,
  });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "application/x-ndjson; charset=utf-8");
  assert.match(
    response.headers.get("content-disposition")!,
    /^attachment; filename="books\.jsonl"/,
  );
  const body = response.body!.getReader();
  const first = await body.read();
  const lines = new TextDecoder().decode(first.value).split("\n");
  assert.equal(lines.length, 1001, "the first page's 1,000 lines");
  assert.deepEqual(JSON.parse(lines[0]), { url: "http://shop.test/0", n: 0 });
  // The answer has begun while the reader still waits to read its second page.
  assert.equal(state.pagesRead, 1);
  release();
  let rest = 0;
  for (let next = await body.read(); !next.done; next = await body.read()) {
    rest += new TextDecoder().decode(next.value).split("\n").length - 1;
  }
  assert.equal(rest, 2000);
  assert.equal(state.pagesRead, 3);
});

Deno.test("a client that goes away stops the reads", async () => {
  const { reader, state, release } = blockingReader(5);
  await using f = await itemsApp(reader);
  const response = await f.app.request("/crawler/resource/books/items", { headers: auth });
  const body = response.body!.getReader();
  await body.read();
  await body.cancel();
  release();
  assert.equal(state.pagesRead, 1);
  assert.ok(state.cancelled, "the reader's pages were closed");
});

Deno.test("the items route passes since, limit and fields on, and refuses bad ones with 400", async () => {
  const { reader, state, release } = blockingReader(1);
  release();
  await using f = await itemsApp(reader);
  const ok = await f.app.request(
    "/crawler/resource/books/items?format=csv&since=2026-01-02&limit=5&fields=url,n",
    { headers: auth },
  );
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get("content-type"), "text/csv; charset=utf-8; header=present");
  assert.ok((await ok.text()).startsWith("url,n\r\nhttp://shop.test/0,0\r\n"));
  assert.deepEqual(state.queries.at(-1), {
    since: new Date("2026-01-02T00:00:00Z"),
    limit: 5,
    fields: ["url", "n"],
  });
  const cases: Array<[string, RegExp]> = [
    ["format=xml", /^format: expected jsonl or csv, got "xml"$/],
    ["since=last-week", /^since: expected an ISO 8601 date/],
    ["limit=0", /^limit: expected a whole number/],
    ["limit=ten", /^limit: expected a whole number/],
    ["fields=a,,b", /^fields: expected column names/],
  ];
  for (const [query, message] of cases) {
    const response = await f.app.request(`/crawler/resource/books/items?${query}`, {
      headers: auth,
    });
    assert.equal(response.status, 400, query);
    assert.match((await response.json()).error, message, query);
  }
});

Deno.test("a task with nothing stored yet exports empty: a CSV is its header", async () => {
  const { reader } = blockingReader();
  await using f = await itemsApp(reader);
  await f.app.request("/crawler/resource", {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify({ name: "fresh", spec: { rule: "douban_book_list" } }),
  });
  const csv = await f.app.request("/crawler/resource/fresh/items?format=csv", { headers: auth });
  assert.deepEqual([csv.status, await csv.text()], [200, "rule,url,time\r\n"]);
  const jsonl = await f.app.request("/crawler/resource/fresh/items", { headers: auth });
  assert.deepEqual([jsonl.status, await jsonl.text()], [200, ""]);
  const fields = await f.app.request("/crawler/resource/fresh/items?format=csv&fields=书名,url", {
    headers: auth,
  });
  assert.equal(await fields.text(), "书名,url\r\n");
});

const item = (key: string, data: Record<string, unknown>, time: number): Item => ({
  task: "books",
  rule: "detail",
  url: `http://shop.test/${key}`,
  time,
  key,
  data,
});

/** A worker's SQLite file holding `items`, and its app serving them behind the token. */
async function workerWith(dir: string, id: string, items: Array<[Item, string[]]>) {
  const path = `${dir}/${id}.db`;
  const sink = new SqliteSink(path, { logger: silentLogger });
  for (const [entry, fields] of items) sink.save(entry, fields);
  await sink.close();
  const results = new SqliteResultReader(path);
  const app = createWorkerApp({
    workerId: id,
    tasks: () => [],
    ready: () => true,
    token: TOKEN,
    results,
  });
  return { id, app, results };
}

Deno.test("with SQLite results the master merges its workers' rows by item_key, each once, the newest", async () => {
  const dir = await Deno.makeTempDir();
  const t = Date.UTC(2026, 0, 2);
  const workers = [
    await workerWith(dir, "w1", [
      [item("b", { 书名: "活着 (w1, older)" }, t), ["书名"]],
      [item("d", { 书名: "d" }, t), ["书名"]],
      [item("a", { 书名: "a", 作者: "余华" }, t), ["书名", "作者"]],
    ]),
    await workerWith(dir, "w2", [
      [item("b", { 书名: "活着 (w2, newer)" }, t + 1000), ["书名"]],
      [item("c", { 书名: "c", 页数: "300" }, t), ["书名", "页数"]],
      [item("e", { 书名: "e" }, t + 5000), ["书名"]],
    ]),
    await workerWith(dir, "w3", []), // never ran the task: no table
  ];
  const asked: string[] = [];
  const reader = new WorkerResultReader({
    workers: () =>
      Promise.resolve(workers.map((w) => ({
        id: w.id,
        address: `${w.id}:9090`,
        httpAddress: `${w.id}:8080`,
        startTime: "",
        payload: 0,
      }))),
    token: TOKEN,
    // Each worker's own app answers, as its HTTP server would.
    fetch: (input, init) => {
      const url = new URL(String(input));
      asked.push(`${url.host}${url.pathname}?${url.searchParams}`);
      const worker = workers.find((w) => `${w.id}:8080` === url.host)!;
      return Promise.resolve(worker.app.request(`${url.pathname}${url.search}`, init));
    },
  });
  try {
    const read = async (query: ResultQuery) => {
      const rows = await reader.rows("books", query);
      const out: ResultValue[][] = [];
      for await (const page of rows.pages()) out.push(...page);
      return { columns: rows.columns, rows: out };
    };
    const all = await read({ fields: ["书名", "作者", "页数", "time"], pageSize: 2 });
    assert.deepEqual(all.rows, [
      ["a", "余华", null, "2026-01-02T00:00:00.000Z"],
      ["活着 (w2, newer)", null, null, "2026-01-02T00:00:01.000Z"],
      ["c", null, "300", "2026-01-02T00:00:00.000Z"],
      ["d", null, null, "2026-01-02T00:00:00.000Z"],
      ["e", null, null, "2026-01-02T00:00:05.000Z"],
    ]);
    assert.ok(asked.every((a) => a.includes("/tasks/books/items?format=jsonl&order=key")));
    const every = await read({});
    assert.deepEqual(every.columns, ["rule", "url", "time", "书名", "作者", "页数"]);
    const keyed = await read({ order: "key", limit: 3, fields: ["书名"] });
    assert.deepEqual(keyed.rows, [["a", "a"], ["b", "活着 (w2, newer)"], ["c", "c"]]);
    const recent = await read({ since: new Date(t + 1000), fields: ["书名"] });
    assert.deepEqual(recent.rows, [["活着 (w2, newer)"], ["e"]]);
    await assert.rejects(read({ fields: ["价格"] }), /fields: task "books" has no column "价格"/);
    await assert.rejects(reader.rows("nothing"), NoResultsError);
  } finally {
    for (const worker of workers) await worker.results.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a worker that does not answer makes the merged export a 503 naming it", async () => {
  const reader = new WorkerResultReader({
    workers: () =>
      Promise.resolve([{
        id: "w9",
        address: "127.0.0.1:1",
        httpAddress: "127.0.0.1:1",
        startTime: "",
        payload: 0,
      }]),
    timeoutMs: 2000,
  });
  await using f = await itemsApp(reader);
  const response = await f.app.request("/crawler/resource/books/items", { headers: auth });
  assert.equal(response.status, 503);
  assert.match((await response.json()).error, /^worker w9 at 127\.0\.0\.1:1 did not answer/);
});

Deno.test("keys merge in SQLite's order: UTF-8 bytes, so U+10000 sorts after U+FFFD", () => {
  const keys = ["b", "\u{10000}", "\uFFFD", "a", "ä", "A", ""];
  assert.deepEqual(keys.sort(compareKeys), ["", "A", "a", "b", "ä", "\uFFFD", "\u{10000}"]);
});

Deno.test("a worker that stops sending half way cuts the export short with an error, logged", async () => {
  const encoder = new TextEncoder();
  const reader = new WorkerResultReader({
    workers: () =>
      Promise.resolve([{
        id: "w1",
        address: "w1:9090",
        httpAddress: "w1:8080",
        startTime: "",
        payload: 0,
      }]),
    fetch: () => {
      let sent = false;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent) {
            controller.error(new Error("connection reset"));
            return;
          }
          sent = true;
          controller.enqueue(encoder.encode('{"item_key":"a","url":"http://shop.test/a"}\n'));
        },
      });
      return Promise.resolve(
        new Response(body, {
          headers: { "x-crawler-columns": encodeURIComponent('["item_key","url"]') },
        }),
      );
    },
  });
  const logged: string[] = [];
  await using f = await itemsApp(reader, createLogger({ write: (line) => logged.push(line) }));
  const response = await f.app.request("/crawler/resource/books/items", { headers: auth });
  assert.equal(response.status, 200, "the answer had begun");
  await assert.rejects(response.text(), /w1 at w1:8080 stopped sending results/);
  assert.ok(logged.some((line) => /"msg":"export failed".*connection reset/.test(line)));
});
