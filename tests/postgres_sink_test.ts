/**
 * What only the Postgres sink does: survive its server crashing and coming back in the middle
 * of a crawl's saving, store values as text, and fail clearly at start (see also the contract
 * in `sink_contract_test.ts`).
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { ConfigError, ServiceUnavailableError } from "../errors/mod.ts";
import { silentLogger } from "../log/logger.ts";
import type { Item } from "../spider/item.ts";
import { startPostgres } from "./kit/postgres.ts";
import { openSink } from "../storage/open_sink.ts";
import { PostgresSink } from "../storage/postgres_sink.ts";

const item = (key: string, data: Record<string, unknown>): Item => ({
  task: "pages",
  rule: "page",
  url: `http://site.test/${key}`,
  time: Date.now(),
  key,
  data,
});

Deno.test("postgres sink: a crash and restart mid-crawl loses no acknowledged item and duplicates none", async () => {
  await using server = await startPostgres();
  const sink = new PostgresSink(server.url, {
    logger: silentLogger,
    batchSize: 20,
    flushIntervalMs: 50,
    retryDelayMs: 20,
    maxRetryDelayMs: 200,
    connectTimeoutSeconds: 2,
  });
  const pages = 300;
  const perPage = 5;
  // Pages the engine would have acknowledged: their flush resolved.
  const acked: number[] = [];
  let crashedAt = -1;
  let down = false;
  let ackedWhileDown = 0;
  let restarted: Promise<void> | undefined;
  try {
    // Like the engine: save a page's items, then wait for them before acknowledging the page;
    // a few pages at a time, and some pages saved twice (crawled again after a lease expiry).
    const crawlPage = async (page: number) => {
      for (let i = 0; i < perPage; i++) {
        sink.save(item(`p${page}#${i}`, { page: `${page}`, n: `${i}` }), ["page", "n"]);
      }
      await sink.flush();
      if (down) ackedWhileDown++;
      acked.push(page);
    };
    for (let page = 0; page < pages; page += 3) {
      const batch = [page, page + 1, page + 2].filter((p) => p < pages);
      if (page % 30 === 0 && page > 0) batch.push(page - 10); // crawled again
      await Promise.all(batch.map(crawlPage));
      if (crashedAt < 0 && acked.length >= pages / 3) {
        crashedAt = acked.length;
        await server.stop();
        down = true;
        // Saving goes on while the server is away (the outage under test: 400 ms); it comes
        // back a moment later.
        restarted = new Promise((resolve) => setTimeout(resolve, 400)).then(() => {
          down = false;
          return server.restart();
        });
      }
    }
    await restarted;
    await sink.close();
  } finally {
    await sink.close({ signal: AbortSignal.abort() });
  }
  assert.ok(crashedAt > 0 && crashedAt < pages, "the crash came mid-crawl");
  assert.equal(ackedWhileDown, 0, "no page is acknowledged while its items cannot be stored");
  const sql = postgres(server.url, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql<Array<{ item_key: string; n: number }>>`
      select item_key, count(*)::int as n from pages group by item_key`;
    assert.equal(rows.length, pages * perPage, "every item of every page is stored");
    assert.ok(rows.every((r) => r.n === 1), "and stored once");
    assert.equal(new Set(acked).size, pages);
    assert.equal(sink.rejected, 0);
  } finally {
    await sql.end();
  }
});

Deno.test("postgres sink: values are stored as text, NUL characters replaced, time as timestamptz", async () => {
  await using server = await startPostgres();
  const sink = new PostgresSink(server.url, { logger: silentLogger });
  sink.save(
    {
      ...item("k", { n: 191, ok: true, obj: { a: [1] }, text: "a\0b" }),
      time: Date.UTC(2026, 0, 2),
    },
    ["n", "ok", "obj", "text", "missing"],
  );
  await sink.close();
  const sql = postgres(server.url, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql`select n, ok, obj, text, missing, time from pages`;
    assert.deepEqual({ ...row }, {
      n: "191",
      ok: "true",
      obj: '{"a":[1]}',
      text: "a\uFFFDb",
      missing: null,
      time: new Date(Date.UTC(2026, 0, 2)),
    });
  } finally {
    await sql.end();
  }
});

Deno.test("openSink: a malformed Postgres URL is a config error, a refused connection says so", async () => {
  const options = { logger: silentLogger, connectTimeoutSeconds: 2 };
  await assert.rejects(
    openSink("postgres://user:secret@[bad/db", options),
    (error: Error) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.key, "storage.sqlURL");
      assert.doesNotMatch(error.message, /secret/);
      return true;
    },
  );
  await assert.rejects(openSink("mysql://x/y", options), /storage\.sqlURL: expected sqlite:PATH/);
  // A port nothing listens on: a free one, closed again.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await assert.rejects(
    openSink(`postgres://crawler:secret@127.0.0.1:${port}/db`, options),
    (error: Error) => {
      assert.ok(error instanceof ServiceUnavailableError);
      assert.match(error.message, /^storage\.sqlURL: cannot reach Postgres at .*ECONNREFUSED/);
      assert.match(error.message, /crawler:\*\*\*@127\.0\.0\.1/);
      return true;
    },
  );
});
