import assert from "node:assert/strict";
import { Hono } from "hono";
import {
  addDashboardRoutes,
  DASHBOARD_EXAMPLE_SPEC,
  DASHBOARD_SCRIPT_PATH,
  DASHBOARD_STYLE_PATH,
} from "./dashboard_page.ts";
import { recordedDigest, sourceDigest } from "./dashboard/bundle.ts";
import { dashboardApiClient } from "./_testing.ts";
import { renderLine } from "./dashboard/render_line.ts";
import { dueIn, recrawlLine } from "./dashboard/recrawl_line.ts";
import { RENDER_SECONDS_BUCKETS } from "../spider/browser/render_stats.ts";

async function served(path: string): Promise<{ type: string | null; body: string }> {
  const app = new Hono();
  addDashboardRoutes(app);
  const response = await app.request(path);
  assert.equal(response.status, 200, path);
  return { type: response.headers.get("content-type"), body: await response.text() };
}

Deno.test("the dashboard page loads its script and stylesheet from its own master, nothing else", async () => {
  const page = await served("/");
  assert.match(page.type ?? "", /^text\/html/);
  // Nothing is loaded from elsewhere: every script, style, font or image is one the master serves.
  const loaded = [...page.body.matchAll(/<(?:script|link|img)[^>]+(?:src|href)="([^"]*)"/gi)]
    .map((m) => m[1]);
  assert.deepEqual(loaded.sort(), [DASHBOARD_STYLE_PATH, DASHBOARD_SCRIPT_PATH].sort());
  assert.ok(page.body.includes(`<script type="module" src="${DASHBOARD_SCRIPT_PATH}"></script>`));
  assert.ok(page.body.includes(`<link rel="stylesheet" href="${DASHBOARD_STYLE_PATH}">`));
  assert.match((await served(DASHBOARD_STYLE_PATH)).type ?? "", /^text\/css/);
  const example = page.body.match(/<textarea[^>]*>([\s\S]*?)<\/textarea>/)?.[1] ?? "";
  assert.deepEqual(
    JSON.parse(example.replaceAll("&lt;", "<").replaceAll("&amp;", "&")),
    DASHBOARD_EXAMPLE_SPEC,
  );
});

Deno.test("the dashboard's served script is plain JavaScript for the browser", async () => {
  const script = await served(DASHBOARD_SCRIPT_PATH);
  assert.match(script.type ?? "", /^text\/javascript/);
  // It parses as a function body: no types left, no import or export to resolve.
  new Function(script.body);
  assert.doesNotMatch(script.body, /\bDeno\./, "the browser has no Deno namespace");
});

Deno.test("the dashboard's script is bundled from its sources as they are now", async () => {
  const { body } = await served(DASHBOARD_SCRIPT_PATH);
  assert.equal(
    recordedDigest(body),
    await sourceDigest(),
    "master/dashboard/dashboard_app.js is older than the .ts files beside it: " +
      "run `deno task dashboard`",
  );
});

Deno.test("the dashboard sends each write with one Idempotency-Key and retries a 503 or no answer with it", async () => {
  const calls: Array<{ method: string; key: string | null; auth: string | null }> = [];
  const answers: Array<() => Response> = [
    () => {
      throw new TypeError("connection reset");
    },
    () => Response.json({ error: "the leader did not answer" }, { status: 503 }),
    () => Response.json({ id: "w1", Address: "127.0.0.1:9090" }),
    () => Response.json({ error: 'resource "a" already exists' }, { status: 409 }),
    () => Response.json({ resources: [] }),
  ];
  const api = dashboardApiClient((_path, init) => {
    const headers = new Headers(init.headers);
    calls.push({
      method: String(init.method),
      key: headers.get("idempotency-key"),
      auth: headers.get("authorization"),
    });
    return Promise.resolve().then(() => answers.shift()!());
  }, { token: "secret" });
  assert.deepEqual(await api("POST", "/crawler/resource", '{"name":"a"}'), {
    id: "w1",
    Address: "127.0.0.1:9090",
  });
  assert.equal(calls.length, 3);
  assert.match(calls[0].key ?? "", /^[0-9a-f]{32}$/);
  assert.ok(calls.every((c) => c.key === calls[0].key), "every try of the write has its key");
  assert.equal(calls[0].auth, "Bearer secret");
  // A refusal is an answer: not retried. Another write gets another key; a read none.
  await assert.rejects(api("POST", "/crawler/resource", '{"name":"a"}'), /already exists/);
  assert.equal(calls.length, 4);
  assert.notEqual(calls[3].key, calls[0].key);
  await api("GET", "/crawler/resource");
  assert.equal(calls[4].key, null);
});

Deno.test("a task card shows its renders, open pages, restarts and render times, only when it renders", () => {
  assert.equal(renderLine(undefined, RENDER_SECONDS_BUCKETS), "", "a task that renders no page");
  const seconds = new Array(RENDER_SECONDS_BUCKETS.length + 1).fill(0);
  seconds[2] = 120; // up to 0.5 s
  seconds[3] = 1500; // up to 1 s
  seconds[RENDER_SECONDS_BUCKETS.length] = 1; // slower than 60 s
  const line = renderLine(
    { rendered: 1620, failed: 1, seconds, open: 3, restarts: 1 },
    RENDER_SECONDS_BUCKETS,
  );
  assert.match(line, /^<div class="task-sub" data-field="render">/);
  assert.match(line, /rendered: 1,620 pages, 1 failed · 3 open · 1 browser restart · /);
  assert.match(line, /render time ≤0\.5 s: 120, ≤1 s: 1,500, >60 s: 1<\/span><\/div>$/);
  const none = renderLine(
    { rendered: 0, failed: 0, seconds: seconds.map(() => 0), open: 0, restarts: 0 },
    RENDER_SECONDS_BUCKETS,
  );
  assert.equal(
    none,
    '<div class="task-sub" data-field="render">rendered: 0 pages, 0 failed · 0 open · ' +
      "0 browser restarts</div>",
  );
});

Deno.test("a recrawl task's card shows its next visit, pages due and scheduled, and what revisits found", () => {
  assert.equal(recrawlLine(undefined, 0), "", "a task that does not recrawl");
  const recrawl = {
    revisits: 1000,
    notModified: 990,
    unchanged: 5,
    changed: 5,
    scheduled: 1000,
    due: 0,
    nextDueAt: 192_000,
  };
  assert.equal(
    recrawlLine(recrawl, 0),
    '<div class="task-sub" data-field="recrawl"><span data-field="next-due">next visit due in ' +
      '3 min 12 s</span> · due 0 / scheduled 1,000 · <span data-field="revisits">revisits 1,000 ' +
      "(304: 990, unchanged 5, changed 5)</span></div>",
  );
  assert.match(recrawlLine({ ...recrawl, due: 40 }, 200_000), /due now<\/span> · due 40 /);
  const { nextDueAt: _, ...unscheduled } = recrawl;
  assert.match(recrawlLine({ ...unscheduled, scheduled: 0 }, 0), /nothing scheduled · due 0 /);
  assert.deepEqual(
    [dueIn(40_000, 0), dueIn(180_000, 0), dueIn(7_500_000, 0), dueIn(7_200_000, 0)],
    ["in 40 s", "in 3 min", "in 2 h 5 min", "in 2 h"],
  );
});
