/**
 * Postgres crashes under a crawl (issue 17): two standalone worker processes share one Postgres
 * for the frontier and the results, crawling a 600-book site whose pages take 50–250 ms; the
 * server runs with `synchronous_commit = off` and `fsync = off` (what a server tuned for speed
 * may do), and is crashed as `pg_ctl -m immediate` does at ~35 % of the crawl for 4 s and at
 * ~80 % for 1.5 s, then started again on the same data.
 *
 * Asserted: both workers exit 0; every book is stored exactly once; every page was fetched, and
 * no more pages were fetched twice than could be in flight at the crashes (2 workers ×
 * concurrency per crash); the items of the pages fetched before each crash reach the table
 * within a few seconds of the server being back; each worker logs the outage once and its end
 * with its length.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { spawnCrawler, waitFor, writeConfig } from "./kit/mod.ts";
import { type DoubanFixture, startDoubanFixture } from "./douban_fixture.ts";
import { type PostgresServer, startPostgres } from "./kit/postgres.ts";

const CONCURRENCY = 8;
const TAGS = 20;
const BOOKS_PER_TAG = 30;
/** Outages: when (share of the books fetched) and for how long. */
const CRASHES = [{ at: 0.35, downMs: 4000 }, { at: 0.8, downMs: 1500 }];
/** What a worker logs when it kept the Postgres client's own failure from ending it. */
const CLIENT_FAILED =
  "the Postgres client failed outside any query; its connections are opened afresh";
/** How soon after the server is back the items kept must be stored, ms. */
const RECOVERY_LIMIT_MS = 5000;

interface CrashFigures {
  /** Books the site had served when the server crashed. */
  booksFetched: number;
  /** From the crash until the restarted server accepted connections, ms. */
  outageMs: number;
  /** From then until every book served before the crash was in the table, ms. */
  storedAfterMs: number;
  /** From then until the site was asked for a page it had not served before, ms. */
  fetchingAfterMs: number;
}

Deno.test("two workers sharing one Postgres survive its crashes: nothing lost, seconds lost", async () => {
  await using pg = await startPostgres({ settings: { synchronous_commit: "off" } });
  const site = startDoubanFixture({
    tags: TAGS,
    booksPerTag: BOOKS_PER_TAG,
    latencyMs: 50,
    latencyMaxMs: 250,
    failOnceEvery: 0,
  });
  const dir = await Deno.makeTempDir({ prefix: "crawler_pg_crash_" });
  const workers: Deno.ChildProcess[] = [];
  try {
    const config = await writeConfig(`${dir}/config.toml`, {
      logLevel: "info",
      Tasks: [{
        Name: "books",
        Rule: "douban_book_list",
        URL: `${site.url}/`,
        Reload: false,
        WaitTime: 0,
        Limits: [],
      }],
      fetcher: { timeout: 5000, concurrency: CONCURRENCY },
      frontier: { url: pg.url, leaseTime: 10 },
      storage: { sqlURL: pg.url },
    });
    const started = performance.now();
    for (const id of [1, 2]) {
      workers.push(
        spawnCrawler(["worker", "--cluster=false", `--id=${id}`, `--config=${config}`]),
      );
    }
    const outputs = workers.map((child) => child.output());

    const figures: CrashFigures[] = [];
    for (const crash of CRASHES) {
      await waitFor(() => booksServed(site).size >= crash.at * site.books.length, {
        what: `${crash.at * 100} % of the books fetched`,
        timeoutMs: 60_000,
      });
      figures.push(await crashAndMeasure(pg, site, crash.downMs));
    }

    const results = await Promise.race([
      Promise.all(outputs),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error("the workers did not finish within 60 s")), 60_000)
      ),
    ]);
    const crawlSeconds = (performance.now() - started) / 1000;
    const decoder = new TextDecoder();
    const logs = results.map((r) => decoder.decode(r.stderr));
    for (const [i, result] of results.entries()) {
      assert.equal(result.code, 0, `worker ${i + 1} exit code; stderr:\n${logs[i]}`);
      assert.match(decoder.decode(result.stdout), /summary: done/);
      assert.doesNotMatch(logs[i], /Uncaught/);
    }

    const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
    try {
      const rows = await sql<Array<{ url: string; title: string }>>`
        select url, "书名" as title from books`;
      assert.equal(rows.length, site.books.length, "one row per book");
      assert.equal(new Set(rows.map((r) => r.url)).size, rows.length, "no book stored twice");
      assert.deepEqual(rows.map((r) => r.title).sort(), site.books.map((b) => b.书名).sort());
    } finally {
      await sql.end();
    }

    assert.equal(site.requests.size, site.pages, "every page fetched");
    const again = [...site.requests].filter(([, count]) => count > 1).map(([path]) => path);
    const inFlightBound = 2 * CONCURRENCY * CRASHES.length;
    assert.ok(
      again.length <= inFlightBound,
      `${again.length} pages fetched again (at most ${inFlightBound} could be in flight): ${again}`,
    );
    for (const [i, f] of figures.entries()) {
      assert.ok(
        f.storedAfterMs <= RECOVERY_LIMIT_MS,
        `crash ${i + 1}: items stored ${f.storedAfterMs} ms after the server was back`,
      );
    }
    const records = logs.map(parseLog);
    for (const [i, lines] of records.entries()) {
      // Each outage is one warning, and its end one line with its length; the waiting of claims,
      // acknowledgements and items is told at info. The client's own failures (caught) may add
      // a warning each.
      const warnings = lines.filter((l) => l.level === "WARN" && l.msg !== CLIENT_FAILED);
      const back = lines.filter((l) => l.msg === "Postgres is back");
      const postgresLog = JSON.stringify(lines.filter((l) => l.logger === "postgres"));
      assert.ok(warnings.length <= CRASHES.length, `worker ${i + 1}: ${JSON.stringify(warnings)}`);
      assert.ok(warnings.every((l) => l.msg === "Postgres is unavailable; waiting for it"));
      assert.equal(back.length, warnings.length, `worker ${i + 1}: ${postgresLog}`);
      assert.ok(back.every((l) => typeof l.downMs === "number"));
      assert.deepEqual(lines.filter((l) => l.level === "ERROR"), []);
    }

    console.log(JSON.stringify({
      crawlSeconds: Number(crawlSeconds.toFixed(1)),
      crashes: figures,
      fetchedAgain: again.length,
      fetchedAgainPaths: again,
      perWorker: records.map((lines) => ({
        warnings: countBy(lines.filter((l) => l.level === "WARN").map((l) => String(l.msg))),
        errors: countBy(lines.filter((l) => l.level === "ERROR").map((l) => String(l.msg))),
        backAfterMs: lines.filter((l) => l.msg === "Postgres is back").map((l) => l.downMs),
        clientFailures: lines.filter((l) => l.msg === CLIENT_FAILED)
          .map((l) => ({ error: l.error, at: l.at })),
      })),
    }));
  } finally {
    for (const child of workers) {
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
    }
    await Promise.all(workers.map((child) => child.status));
    await site.close();
    await Deno.remove(dir, { recursive: true });
  }
});

/** The book ids whose detail page the site has served (at least once), in order. */
function booksServed(site: DoubanFixture): Set<string> {
  return new Set(site.log.filter((path) => path.startsWith("/subject/")));
}

/**
 * Crashes the server, keeps it down `downMs`, starts it again on the same data, and measures how
 * soon the crawl is back: every book served before the crash stored, and a new page fetched.
 */
async function crashAndMeasure(
  pg: PostgresServer,
  site: DoubanFixture,
  downMs: number,
): Promise<CrashFigures> {
  const crashedAt = performance.now();
  await pg.crash();
  const served = booksServed(site);
  const pagesBefore = new Set(site.log);
  // The outage itself: the server stays away this long.
  await new Promise((resolve) => setTimeout(resolve, downMs));
  await pg.restart();
  const backAt = performance.now();
  let fetchingAt: number | undefined;
  const watchFetching = setInterval(() => {
    if (fetchingAt === undefined && site.log.some((path) => !pagesBefore.has(path))) {
      fetchingAt = performance.now();
    }
  }, 20);
  const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
  try {
    const wanted = [...served].map((path) => `${site.url}${path}`);
    await waitFor(async () => {
      const [row] = await sql<Array<{ n: number }>>`
        select count(*)::int as n from books where url = any(${wanted})`;
      return row.n === wanted.length;
    }, { what: "the items of the pages fetched before the crash in the table", timeoutMs: 30_000 });
    const storedAt = performance.now();
    await waitFor(() => fetchingAt !== undefined, {
      what: "a page fetched after the restart",
      timeoutMs: 30_000,
    });
    return {
      booksFetched: served.size,
      outageMs: Math.round(backAt - crashedAt),
      storedAfterMs: Math.round(storedAt - backAt),
      fetchingAfterMs: Math.round(fetchingAt! - backAt),
    };
  } finally {
    clearInterval(watchFetching);
    await sql.end();
  }
}

/** How many times each string occurs. */
function countBy(values: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

/** The JSON log records of a worker's stderr. */
function parseLog(text: string): Array<Record<string, unknown>> {
  const records = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      records.push(JSON.parse(line));
    } catch { /* not a record */ }
  }
  return records;
}
