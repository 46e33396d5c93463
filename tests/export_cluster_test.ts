/**
 * A master's export with SQLite results, on real processes: etcd, a `crawler master` and two
 * `crawler worker`s, each with its own results file (as on two machines) that already holds
 * rows of the task, some of them in both. The master asks both workers over HTTP with the
 * cluster's token and streams the merge: each item once, the copy stored last.
 */
import assert from "node:assert/strict";
import { silentLogger } from "../log/logger.ts";
import { SqliteSink } from "../storage/sqlite_sink.ts";
import { Cluster, http } from "./kit/mod.ts";
import { parseCsvWithPython } from "./python_csv.ts";

const TOKEN = "cluster-export-token";
const T0 = Date.UTC(2026, 0, 2);

/** Fills worker `n`'s results file (`<dir>/worker<n>.db`) with `keys` of the task "books". */
async function fillResults(dir: string, n: number, keys: string[], at: number): Promise<void> {
  const results = `${dir}/worker${n}.db`;
  const sink = new SqliteSink(results, { logger: silentLogger });
  for (const key of keys) {
    sink.save({
      task: "books",
      rule: "书籍简介",
      url: `http://shop.test/${key}`,
      time: at,
      key,
      data: { 书名: `《${key}》, worker ${n}`, 简介: 'a "quoted"\nline' },
    }, ["书名", "简介"]);
  }
  await sink.close();
}

Deno.test("a master exports SQLite results from its workers, merged by item_key", async () => {
  await using cluster = await Cluster.start({ masters: 1, ttlSeconds: 3, token: TOKEN });
  const keys = Array.from({ length: 2500 }, (_, i) => `k${String(i).padStart(4, "0")}`);
  // Worker 1 has the first 1,500 keys, worker 2 the last 1,500 and stored them later.
  await fillResults(cluster.dir, 1, keys.slice(0, 1500), T0);
  await fillResults(cluster.dir, 2, keys.slice(1000), T0 + 60_000);
  const master = cluster.masters.get(1)!;
  const workers = await Promise.all([1, 2].map((n) => cluster.startWorker(n)));
  try {
    await cluster.waitForWorkers(2);
    // The resource the rows belong to; its crawl finds nothing (the site does not answer).
    const added = await master.request("/crawler/resource", {
      method: "POST",
      json: { name: "books", spec: { rule: "douban_book_list", url: "http://127.0.0.1:9/" } },
    });
    assert.equal(added.status, 200, JSON.stringify(added.body));

    const url = master.url("/crawler/resource/books/items");
    const anonymous = await http(url);
    assert.equal(anonymous.status, 401);
    const headers = { authorization: `Bearer ${TOKEN}` };
    const response = await fetch(url, { headers, signal: AbortSignal.timeout(20_000) });
    assert.equal(response.status, 200);
    const rows = (await response.text()).trimEnd().split("\n").map((line) => JSON.parse(line));
    assert.equal(rows.length, keys.length, "each item once");
    assert.deepEqual(rows.map((r) => r.url), keys.map((k) => `http://shop.test/${k}`));
    // Keys both workers hold come from worker 2, which stored them last.
    assert.equal(rows[999].书名, "《k0999》, worker 1");
    assert.equal(rows[1000].书名, "《k1000》, worker 2");
    assert.equal(rows[1499].书名, "《k1499》, worker 2");
    assert.deepEqual(Object.keys(rows[0]), ["rule", "url", "time", "书名", "简介"]);

    const csv = await fetch(`${url}?format=csv&fields=书名,简介&limit=3`, {
      headers,
      signal: AbortSignal.timeout(20_000),
    });
    assert.deepEqual(await parseCsvWithPython(await csv.text()), [
      ["书名", "简介"],
      ["《k0000》, worker 1", 'a "quoted"\nline'],
      ["《k0001》, worker 1", 'a "quoted"\nline'],
      ["《k0002》, worker 1", 'a "quoted"\nline'],
    ]);

    // A worker that is gone but still registered: the export says which one, not half the rows.
    await cluster.signal(workers[1], "SIGKILL");
    const partial = await master.request("/crawler/resource/books/items");
    assert.equal(partial.status, 503);
    assert.match(
      String(partial.body.error),
      /^worker crawler\.worker-2 at 127\.0\.0\.1:\d+ did not answer/,
    );
  } catch (error) {
    cluster.dumpLogs();
    throw error;
  }
});
