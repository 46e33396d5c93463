/**
 * @module
 * How fast the results sinks store items: SQLite and Postgres (a local test server), first as
 * inserts, then the same keys again as upserts (a crawl run again), in batches; and the way the
 * engine uses them, each page's items flushed before its acknowledgement, 16 pages at a time.
 * Prints figures; `deno run -A bench/sink_write.ts` runs it alone.
 */
import { silentLogger } from "../log/logger.ts";
import type { Item } from "../spider/item.ts";
import { PostgresSink } from "../storage/postgres_sink.ts";
import type { ResultSink } from "../storage/result_sink.ts";
import { SqliteSink } from "../storage/sqlite_sink.ts";
import { startPostgres } from "../tests/kit/postgres.ts";

const ITEMS = 20_000;
const FIELDS = ["书名", "作者", "页数", "出版社", "得分", "价格", "简介"];
const PER_PAGE = 5;
const PAGES_AT_ONCE = 16;

function item(i: number): Item {
  return {
    task: "bench",
    rule: "书籍简介",
    url: `http://bench.test/subject/${Math.floor(i / PER_PAGE)}/`,
    time: Date.now(),
    key: `http://bench.test/subject/${Math.floor(i / PER_PAGE)}/#${i % PER_PAGE}`,
    data: Object.fromEntries(FIELDS.map((f) => [f, `${f} ${i} ${"x".repeat(40)}`])),
  };
}

/** Items/s saving every item and flushing once at the end. */
async function batched(sink: ResultSink): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < ITEMS; i++) sink.save(item(i), FIELDS);
  await sink.flush();
  return ITEMS / ((performance.now() - start) / 1000);
}

/** Items/s when each page's items are flushed before the next page of that slot starts. */
async function perPage(sink: ResultSink): Promise<number> {
  const pages = ITEMS / PER_PAGE;
  let next = 0;
  const start = performance.now();
  await Promise.all(Array.from({ length: PAGES_AT_ONCE }, async () => {
    while (next < pages) {
      const page = next++;
      for (let i = 0; i < PER_PAGE; i++) sink.save(item(page * PER_PAGE + i), FIELDS);
      await sink.flush();
    }
  }));
  return ITEMS / ((performance.now() - start) / 1000);
}

async function measure(label: string, open: (batchSize: number) => ResultSink): Promise<string[]> {
  const lines: string[] = [];
  for (const batchSize of [100, 500]) {
    const sink = open(batchSize);
    try {
      const insert = await batched(sink);
      const upsert = await batched(sink);
      lines.push(
        `${label}, batch ${batchSize}: ${fmt(insert)} items/s inserted, ${
          fmt(upsert)
        } items/s upserted again`,
      );
    } finally {
      await sink.close();
    }
  }
  const sink = open(100);
  try {
    lines.push(
      `${label}, each page's ${PER_PAGE} items flushed before its ack, ${PAGES_AT_ONCE} pages ` +
        `at once: ${fmt(await perPage(sink))} items/s`,
    );
  } finally {
    await sink.close();
  }
  return lines;
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

/** The figures, one line each. */
export async function benchSinks(): Promise<string[]> {
  const dir = await Deno.makeTempDir();
  const lines: string[] = [];
  try {
    let n = 0;
    lines.push(
      ...await measure(
        "sqlite sink",
        (batchSize) => new SqliteSink(`${dir}/bench${n++}.db`, { logger: silentLogger, batchSize }),
      ),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  let server;
  try {
    server = await startPostgres();
  } catch (error) {
    lines.push(`postgres sink: skipped (${(error as Error).message.split("\n")[0]})`);
    return lines;
  }
  try {
    let n = 0;
    const urls: string[] = [];
    for (let i = 0; i < 3; i++) urls.push(await server.createDatabase(`bench${i}`));
    lines.push(
      ...await measure(
        "postgres sink (local server)",
        (batchSize) => new PostgresSink(urls[n++], { logger: silentLogger, batchSize }),
      ),
    );
  } finally {
    await server.dispose();
  }
  return lines;
}

if (import.meta.main) {
  for (const line of await benchSinks()) console.log(line);
}
