import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { silentLogger } from "../log/logger.ts";
import { exportStream } from "./export_stream.ts";
import type { ResultRows, ResultValue } from "./result_reader.ts";
import { SqliteResultReader } from "./sqlite_result_reader.ts";
import { SqliteSink } from "./sqlite_sink.ts";

/** Rows served from memory, `pageSize` at a time, counting the pages handed out. */
function memoryRows(columns: string[], rows: ResultValue[][], pageSize = 2) {
  const counts = { pages: 0, finished: false };
  const source: ResultRows = {
    columns,
    async *pages() {
      try {
        for (let at = 0; at < rows.length; at += pageSize) {
          counts.pages++;
          yield rows.slice(at, at + pageSize);
        }
      } finally {
        counts.finished = true;
      }
    },
  };
  return { source, counts };
}

async function text(stream: ReadableStream<Uint8Array>): Promise<string> {
  return await new Response(stream).text();
}

Deno.test("JSONL export: one parsable object per row, keys in column order, null for empty", async () => {
  const rows = Array.from({ length: 7 }, (_, i): ResultValue[] => [
    `r${i}`,
    i % 2 ? null : i,
    'say "hi"\n',
  ]);
  const { source } = memoryRows(["rule", "数", "text"], rows, 3);
  const lines = (await text(exportStream(source, "jsonl"))).split("\n");
  assert.equal(lines.pop(), "", "every line ends with a newline");
  assert.equal(lines.length, 7);
  const parsed = lines.map((line) => JSON.parse(line));
  assert.deepEqual(Object.keys(parsed[0]), ["rule", "数", "text"]);
  assert.deepEqual(parsed[1], { rule: "r1", 数: null, text: 'say "hi"\n' });
  assert.deepEqual(parsed[2], { rule: "r2", 数: 2, text: 'say "hi"\n' });
});

Deno.test("CSV export of no rows is the header alone", async () => {
  const { source } = memoryRows(["rule", "url", "time"], []);
  const csv = await text(exportStream(source, "csv"));
  assert.equal(csv, "rule,url,time\r\n");
  assert.equal(await text(exportStream(memoryRows(["a"], []).source, "jsonl")), "");
});

Deno.test("the export stream reads a page only when the previous one was taken, and stops when cancelled", async () => {
  const rows = Array.from({ length: 100 }, (_, i): ResultValue[] => [i]);
  const { source, counts } = memoryRows(["n"], rows, 10);
  const reader = exportStream(source, "csv").getReader();
  assert.equal(counts.pages, 0, "nothing is read before the consumer asks");
  const header = await reader.read();
  assert.equal(new TextDecoder().decode(header.value), "n\r\n");
  assert.equal(counts.pages, 0, "the header needs no page");
  await reader.read();
  assert.equal(counts.pages, 1);
  await reader.read();
  assert.equal(counts.pages, 2);
  await reader.cancel();
  assert.equal(counts.pages, 2, "no page is read after the cancel");
  assert.ok(counts.finished, "the pages source is closed");
});

Deno.test("a failure while reading ends the stream with that error", async () => {
  const source: ResultRows = {
    columns: ["n"],
    async *pages() {
      yield [[1]];
      throw new Error("the database went away");
    },
  };
  await assert.rejects(text(exportStream(source, "jsonl")), /the database went away/);
});

Deno.test("exporting 200,000 SQLite rows pages by id: never more than one page read ahead of the consumer", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/results.db`;
    const sink = new SqliteSink(path, { logger: silentLogger });
    sink.save({
      task: "big",
      rule: "r",
      url: "http://shop.test/0",
      time: Date.UTC(2026, 0, 1),
      key: "k0",
      data: { v: "value 0" },
    }, ["v"]);
    await sink.close();
    const total = 200_000;
    const db = new DatabaseSync(path);
    db.exec(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${total - 1}) ` +
        `INSERT INTO "big" (item_key, rule, url, time, v) SELECT 'k' || i, 'r', ` +
        `'http://shop.test/' || i, '2026-01-01T00:00:00.000Z', 'value ' || i FROM n`,
    );
    db.close();

    const reader = new SqliteResultReader(path);
    const rows = await reader.rows("big");
    let read = 0;
    let largest = 0;
    let rowsRead = 0;
    const counted: ResultRows = {
      columns: rows.columns,
      async *pages() {
        for await (const page of rows.pages()) {
          read++;
          rowsRead += page.length;
          largest = Math.max(largest, page.length);
          yield page;
        }
      },
    };
    let taken = 0;
    let ahead = 0;
    let lines = 0;
    let rest = "";
    const decoder = new TextDecoder();
    for await (const chunk of exportStream(counted, "jsonl")) {
      taken++;
      ahead = Math.max(ahead, read - taken);
      const text = rest + decoder.decode(chunk, { stream: true });
      const parts = text.split("\n");
      rest = parts.pop()!;
      for (const line of parts) {
        JSON.parse(line);
        lines++;
      }
    }
    await reader.close();
    assert.equal(rest, "");
    assert.equal(lines, total, "a line per row");
    assert.equal(rowsRead, total);
    assert.equal(largest, 1000, "a page is 1,000 rows");
    assert.equal(read, total / 1000);
    assert.equal(ahead, 0, "a page is read only once the previous one was taken");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
