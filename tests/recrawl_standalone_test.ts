/**
 * Recrawls through the real CLI (docs/frontier.md, "Recrawl"): a standalone worker keeps a
 * 1,000-article site fresh with conditional GETs, rewrites only the rows of pages that changed
 * (and deletes the items they dropped), keeps its schedule across a SIGKILL, and with `--once`
 * fetches each page once and exits.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { STATE_CODES } from "../frontier/frontier.ts";
import { runCrawler, spawnCrawler, waitFor, writeConfig } from "./kit/mod.ts";
import { recrawlTask, startRecrawlFixture } from "./recrawl_fixture.ts";

const INTERVAL_MS = 2000;

function config(dir: string, siteUrl: string): Promise<string> {
  return writeConfig(`${dir}/config.toml`, {
    logLevel: "warn",
    fetcher: { timeout: 5000, concurrency: 16 },
    frontier: { url: `sqlite:${dir}/frontier.db` },
    storage: { sqlURL: `sqlite:${dir}/results.db` },
    Tasks: [recrawlTask(siteUrl, { Interval: `${INTERVAL_MS / 1000}s`, Adaptive: false })],
  });
}

interface Row {
  url: string;
  item_key: string;
  time: number;
  text: string;
}

/** The stored items, by key; the path stands for the URL. */
function readRows(dir: string): Map<string, Row> {
  const db = new DatabaseSync(`${dir}/results.db`, { readOnly: true });
  try {
    const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'fresh'").get();
    if (!exists) return new Map();
    const rows = db.prepare(`SELECT url, item_key, time, text FROM "fresh"`)
      .all() as unknown as Row[];
    return new Map(rows.map((r) => [r.item_key, { ...r, url: new URL(r.url).pathname }]));
  } finally {
    db.close();
  }
}

/** Each article's due time and state in the frontier, by path. */
function schedule(dir: string): Map<string, { state: number; dueAt: number }> {
  const db = new DatabaseSync(`${dir}/frontier.db`, { readOnly: true });
  try {
    const rows = db.prepare(
      `SELECT u.url, u.state, u.due_at FROM frontier_urls u WHERE u.url LIKE '%/a/%'`,
    ).all() as Array<{ url: string; state: number; due_at: number }>;
    // A row keeps its URL less its host's origin (frontier/_url_parts.ts).
    return new Map(
      rows.map((r) => [r.url.replace(/^https?:\/\/[^/]+/, ""), {
        state: r.state,
        dueAt: r.due_at,
      }]),
    );
  } finally {
    db.close();
  }
}

/** A worker whose output is kept (its pipes would fill and block it otherwise). */
function startWorker(
  args: string[],
): { child: Deno.ChildProcess; output: string[]; drained: Promise<unknown> } {
  const child = spawnCrawler(args);
  const output: string[] = [];
  const drained = Promise.all(
    [child.stdout, child.stderr].map((stream) =>
      stream.pipeThrough(new TextDecoderStream()).pipeTo(
        new WritableStream({ write: (chunk) => void output.push(chunk) }),
      )
    ),
  );
  return { child, output, drained };
}

Deno.test("a standalone recrawl: 304s, only changed pages rewritten, the schedule survives SIGKILL", async () => {
  const site = startRecrawlFixture({ lists: 20, perList: 50 });
  const dir = await Deno.makeTempDir();
  const args = ["worker", "--cluster=false", `--config=${await config(dir, site.url)}`];
  let worker = startWorker(args);
  try {
    // The first pass: every page once, three items an article.
    await waitFor(() => readRows(dir).size === 3 * site.articles.length, {
      what: "the first pass's 3,000 items stored",
      timeoutMs: 60_000,
    });
    // The second pass asks every page whether it changed: it did not.
    await waitFor(() => site.articles.every((p) => site.hitsOf(p).length >= 2), {
      what: "every article revisited",
      timeoutMs: 30_000,
    });
    const second = site.articles.map((p) => site.hitsOf(p)[1]);
    const notModified = second.filter((h) => h.status === 304).length;
    assert.ok(notModified >= 0.99 * second.length, `304s: ${notModified} of ${second.length}`);
    assert.ok(second.every((h) => h.conditional), "every revisit is a conditional GET");
    for (const path of site.articles) {
      const [first, next] = site.hitsOf(path);
      assert.ok(
        next.at - first.at >= INTERVAL_MS,
        `${path} revisited after ${next.at - first.at} ms`,
      );
    }
    const before = readRows(dir);

    // 50 articles change: exactly their rows change at their next visit, their dropped items go.
    const changed = site.articles.filter((_, i) => i % 20 === 7);
    assert.equal(changed.length, 50);
    const changedAt = Date.now();
    /** Hits from here on saw the change (the site answers on this thread). */
    const firstAfter = site.hits.length;
    site.change(changed);
    const changedSet = new Set(changed);
    await waitFor(() => {
      const rows = [...readRows(dir).values()];
      return changed.every((path) => {
        const texts = rows.filter((r) => r.url === path).map((r) => r.text).sort();
        return JSON.stringify(texts) === JSON.stringify(site.itemsOf(path).sort());
      });
    }, { what: "the 50 changed articles' rows rewritten", timeoutMs: 30_000 });
    console.log(`50 changed pages stored ${Date.now() - changedAt} ms after the change`);
    // Each changed page's next visit found the change (a 200 with the new version), and the
    // visits after it are 304s again: its new validators were kept.
    for (const path of changed) {
      const since = site.hits.slice(firstAfter).filter((h) => h.path === path);
      assert.equal(since[0]?.status, 200, `${path}'s first visit after the change`);
      assert.ok(since.slice(1).every((h) => h.status === 304), `${path}: ${JSON.stringify(since)}`);
    }
    const after = readRows(dir);
    assert.equal(after.size, before.size - changed.length, "each changed page dropped one item");
    for (const [key, row] of before) {
      if (changedSet.has(row.url)) continue;
      assert.equal(after.get(key)?.time, row.time, `${key} was rewritten`);
    }

    // SIGKILL in the middle of a pass, and start again: nothing is fetched before it is due.
    const hitsNow = site.hits.length;
    await waitFor(() => site.hits.length > hitsNow + 100, {
      what: "a pass under way (100 more fetches)",
      intervalMs: 1,
    });
    worker.child.kill("SIGKILL");
    await worker.child.status;
    await worker.drained;
    const killedAt = Date.now();
    const due = schedule(dir);
    assert.equal(due.size, site.articles.length);
    const hitsBefore = site.hits.length;
    // The host slots the killed process held (leased for 35 s by default, longer than this
    // wait) are freed by the worker started again under the same id.
    worker = startWorker(args);
    await waitFor(
      () => site.articles.every((p) => site.hitsOf(p).some((h) => h.at > killedAt)),
      { what: "every article fetched after the restart", timeoutMs: 30_000 },
    );
    let early = 0;
    for (const [path, { state, dueAt }] of due) {
      // A page in flight at the kill was never acknowledged: it is fetched again at once.
      if (state === STATE_CODES.leased) continue;
      const next = site.hitsOf(path).find((h) => h.at > killedAt)!;
      if (next.at < dueAt) early++;
    }
    assert.equal(early, 0, "articles fetched before their due time after the restart");
    assert.ok(site.hits.length > hitsBefore);

    worker.child.kill("SIGINT");
    const stopped = await worker.child.status;
    assert.equal(stopped.code, 0, `SIGINT ends a recrawl task's worker: ${worker.output.join("")}`);
  } finally {
    try {
      worker.child.kill("SIGKILL");
    } catch { /* already gone */ }
    await worker.child.status;
    await worker.drained;
    await site.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--once crawls a recrawl task's pages once and exits", async () => {
  const site = startRecrawlFixture({ lists: 2, perList: 10 });
  const dir = await Deno.makeTempDir();
  try {
    const result = await runCrawler([
      "worker",
      "--cluster=false",
      "--once",
      `--config=${await config(dir, site.url)}`,
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(site.hits.length, site.pages, "each page fetched once");
    assert.equal(readRows(dir).size, 3 * site.articles.length);
  } finally {
    await site.close();
    await Deno.remove(dir, { recursive: true });
  }
});
