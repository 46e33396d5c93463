/**
 * The CSV export read back by another program: Python's standard `csv` module (`python3` on the
 * PATH), through the real path — the sink stores, the reader reads, the stream encodes.
 */
import assert from "node:assert/strict";
import { silentLogger } from "../log/logger.ts";
import { encodeGbk } from "./gbk_encode.ts";
import { parseCsvWithPython } from "./python_csv.ts";
import { exportStream } from "../storage/export_stream.ts";
import { SqliteResultReader } from "../storage/sqlite_result_reader.ts";
import { SqliteSink } from "../storage/sqlite_sink.ts";

async function text(stream: ReadableStream<Uint8Array>): Promise<string> {
  return await new Response(stream).text();
}

Deno.test("CSV export round-trips commas, quotes, line breaks and GBK-decoded Chinese through Python's csv", async () => {
  // Chinese as a crawl meets it: bytes of a GBK page, decoded.
  const gbkText = new TextDecoder("gbk").decode(encodeGbk("余华，《活着》：“福贵”的一生"));
  assert.equal(gbkText, "余华，《活着》：“福贵”的一生");
  const awkward = [
    "plain",
    "a, b",
    'say "hi"',
    '"quoted"',
    "two\nlines",
    "crlf\r\nend",
    "bare\rcr",
    "  padded  ",
    "",
    gbkText,
    "tab\there",
    "=1+1",
  ];
  const dir = await Deno.makeTempDir();
  try {
    // Through the real path: the sink stores, the reader reads, the stream encodes.
    const path = `${dir}/results.db`;
    const sink = new SqliteSink(path, { logger: silentLogger });
    awkward.forEach((value, i) =>
      sink.save({
        task: "书",
        rule: "详情",
        url: `http://shop.test/${i}`,
        time: Date.UTC(2026, 0, 2),
        key: `k${i}`,
        data: { 书名: value, "a,b": i, 'q"': null },
      }, ["书名", "a,b", 'q"'])
    );
    await sink.close();
    const reader = new SqliteResultReader(path);
    const csv = await text(exportStream(await reader.rows("书", { pageSize: 5 }), "csv"));
    await reader.close();
    assert.ok(csv.endsWith("\r\n"), "records end with CRLF");
    const records = await parseCsvWithPython(csv);
    assert.deepEqual(records[0], ["rule", "url", "time", "书名", "a,b", 'q"']);
    assert.equal(records.length, awkward.length + 1);
    awkward.forEach((value, i) =>
      assert.deepEqual(records[i + 1], [
        "详情",
        `http://shop.test/${i}`,
        "2026-01-02T00:00:00.000Z",
        value,
        String(i),
        "",
      ])
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
