/**
 * @module
 * The dashboard every master serves at `/` (and `crawler dev` too): one self-contained page, no
 * build step and nothing fetched from elsewhere. It polls `GET /crawler/cluster` and draws every
 * task with its placements, state, counters summed over its workers, a pages/s sparkline, its
 * last errors and busiest hosts, the workers with their load and health, and the leader; it adds,
 * deletes, pauses and resumes tasks through the same HTTP API, and downloads a task's items as
 * JSONL or CSV. When the API answers 401 it asks for the token once and keeps it in
 * `sessionStorage`, sending `Authorization: Bearer …` (a download too: it is fetched with the
 * header and saved from a blob, since a plain link cannot carry it).
 */

/** The example a new user can add as is: the demo site's task (`deno task demo-site`). */
export const DASHBOARD_EXAMPLE_SPEC = {
  name: "demo_books",
  spec: { rule: "douban_book_list", url: "http://127.0.0.1:8088/", waitTime: 0, limits: [] },
};

/**
 * The page's API client, plain browser JavaScript inlined into its script: `api(method, path,
 * body)` answers the parsed JSON or throws with the API's error message. Every write carries an
 * `Idempotency-Key` made once for it, and a 503 or a missing answer (the outcome is unknown) is
 * sent again with the same key until it is answered or 30 s pass, so a write is never applied
 * twice nor refused with 409/404 because an earlier try of it was applied. It expects `fetch`,
 * `sessionStorage`, `TOKEN_KEY`, `askToken` and `AuthNeeded` in scope; tests evaluate it with
 * their own (`new Function(...names, DASHBOARD_API_CLIENT + "return api;")`).
 */
export const DASHBOARD_API_CLIENT = `
// A write's outcome is unknown after a 503 or no answer: it is sent again, with the same
// Idempotency-Key, until it gets an answer or WRITE_RETRY_MS pass. The key is made once per
// write (getRandomValues: randomUUID needs https), so the leader answers a retry of a write it
// already made as it answered the first time, instead of 409 or 404.
const WRITE_RETRY_MS = 30000;
function newIdempotencyKey() {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function api(method, path, body) {
  const write = method !== "GET";
  const key = write ? newIdempotencyKey() : undefined;
  const deadline = Date.now() + WRITE_RETRY_MS;
  for (let attempt = 0; ; attempt++) {
    const headers = {};
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.authorization = "Bearer " + token;
    if (body !== undefined) headers["content-type"] = "application/json";
    if (key) headers["idempotency-key"] = key;
    const wait = Math.min(1000, 200 * 2 ** attempt);
    let response;
    try {
      response = await fetch(path, { method, headers, body });
    } catch (error) {
      if (write && Date.now() + wait < deadline) { await new Promise((r) => setTimeout(r, wait)); continue; }
      throw error;
    }
    if (response.status === 401) { askToken(token ? "That token was refused." : ""); throw new AuthNeeded("token needed"); }
    const text = await response.text();
    let data = {};
    try { data = text ? JSON.parse(text) : {}; } catch { data = { error: text }; }
    if (write && response.status === 503 && Date.now() + wait < deadline) { await new Promise((r) => setTimeout(r, wait)); continue; }
    if (!response.ok) throw new Error(data.error || ("HTTP " + response.status));
    return data;
  }
}
`;

/** The page's HTML. It talks to the API of the origin it is served from. */
export function dashboardPage(): string {
  const example = JSON.stringify(DASHBOARD_EXAMPLE_SPEC, null, 2)
    .replaceAll("&", "&amp;").replaceAll("<", "&lt;");
  return PAGE.replace("%EXAMPLE%", () => example).replace(
    "%API_CLIENT%",
    () => DASHBOARD_API_CLIENT.trim(),
  );
}

const PAGE = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>crawler · cluster</title>
<style>
:root { --bg: #f5f6f8; --card: #fff; --line: #e3e6ea; --text: #1d2430; --muted: #6b7480;
  --green: #1f8a4c; --amber: #b7791f; --red: #c0392b; --blue: #2f6fd6; --grey: #7c8591; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--text); background: var(--bg); }
header { display: flex; align-items: center; gap: 1.2em; padding: .8em 1.6em; background: #1d2430; color: #fff; flex-wrap: wrap; }
header h1 { font-size: 1.15em; margin: 0; letter-spacing: .02em; }
header .meta { color: #c9d1dc; font-size: .9em; }
header .meta b { color: #fff; font-weight: 600; }
header .right { margin-left: auto; display: flex; gap: 1em; align-items: center; }
#conn { font-size: .85em; padding: .15em .6em; border-radius: 1em; background: #2d6a45; }
#conn.bad { background: var(--red); }
main { padding: 1.2em 1.6em 3em; max-width: 1400px; margin: 0 auto; }
h2 { font-size: 1em; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); margin: 1.6em 0 .6em; }
.empty { color: var(--muted); padding: 1em; background: var(--card); border: 1px dashed var(--line); border-radius: 8px; }
#tasks { display: grid; grid-template-columns: repeat(auto-fill, minmax(430px, 1fr)); gap: 1em; }
.task[data-state="paused"] { background: #fffdf7; }
.task { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .9em 1em; }
.task-head { display: flex; align-items: center; gap: .6em; }
.task-name { font-weight: 650; font-size: 1.05em; word-break: break-all; }
.task-sub { color: var(--muted); font-size: .85em; margin: .15em 0 .6em; word-break: break-all; }
.actions { margin-left: auto; display: flex; gap: .4em; }
button { font: inherit; font-size: .85em; padding: .3em .8em; border: 1px solid var(--line); border-radius: 5px; background: #fff; cursor: pointer; }
button:hover { border-color: #aab2bd; }
button.primary { background: var(--blue); border-color: var(--blue); color: #fff; }
button.danger { color: var(--red); }
button.danger.armed { background: var(--red); border-color: var(--red); color: #fff; }
.pill { display: inline-block; font-size: .75em; font-weight: 600; padding: .1em .6em; border-radius: 1em; background: #eef0f3; color: var(--grey); text-transform: uppercase; letter-spacing: .04em; }
.pill.running, .pill.ok { background: #e3f4ea; color: var(--green); }
.pill.paused, .pill.pausing, .pill.not-ready, .pill.pending, .pill.not-polled-yet { background: #fbf0dc; color: var(--amber); }
.pill.finished { background: #e6eefb; color: var(--blue); }
.pill.unknown, .pill.unreachable, .pill.unassigned { background: #fbe5e2; color: var(--red); }
.counters { display: grid; grid-template-columns: repeat(6, 1fr); gap: .3em; margin: .3em 0 .5em; }
.counter { text-align: right; }
.counter .v { font-size: 1.15em; font-weight: 600; font-variant-numeric: tabular-nums; }
.counter .k { font-size: .72em; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
.counter.bad .v { color: var(--red); }
.spark { display: block; width: 100%; height: 46px; background: #fafbfc; border: 1px solid var(--line); border-radius: 5px; }
.spark polyline { fill: none; stroke: var(--blue); stroke-width: 1.5; vector-effect: non-scaling-stroke; }
.spark polygon { fill: rgba(47,111,214,.12); stroke: none; }
.spark-label { display: flex; justify-content: space-between; font-size: .72em; color: var(--muted); margin-top: .15em; }
.placements { font-size: .85em; margin: .5em 0 .2em; }
.placements span { margin-right: .8em; white-space: nowrap; }
.downloads { font-size: .8em; margin: .1em 0 .3em; }
.downloads a { margin-right: 1em; }
.lists { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 1em; margin-top: .5em; }
.lists h3 { font-size: .72em; text-transform: uppercase; letter-spacing: .05em; color: var(--muted); margin: 0 0 .2em; font-weight: 600; }
.lists ul { list-style: none; margin: 0; padding: 0; font-size: .8em; }
.lists li { padding: .15em 0; border-bottom: 1px solid #f0f1f3; }
.lists li > div { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.lists li .host { display: flex; justify-content: space-between; gap: .5em; }
.lists li .polite { font-size: .85em; color: #666; }
.lists li .e { color: var(--red); }
.lists li .n { color: var(--muted); font-variant-numeric: tabular-nums; margin-right: .4em; }
.lists .none { color: var(--muted); font-size: .8em; }
a { color: var(--blue); text-decoration: none; }
table { width: 100%; border-collapse: collapse; background: var(--card); border: 1px solid var(--line); border-radius: 8px; overflow: hidden; }
th, td { text-align: left; padding: .45em .8em; border-bottom: 1px solid var(--line); font-size: .9em; }
th { font-size: .72em; text-transform: uppercase; letter-spacing: .05em; color: var(--muted); background: #fafbfc; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.add { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 1em; }
.add textarea { width: 100%; height: 14em; font: 13px/1.4 ui-monospace, "SFMono-Regular", Menlo, monospace; border: 1px solid var(--line); border-radius: 5px; padding: .6em; }
.add .row { display: flex; gap: .6em; align-items: center; margin-top: .6em; }
#add-error { display: none; margin-top: .6em; padding: .6em .8em; border-radius: 5px; background: #fbe5e2; color: var(--red); white-space: pre-wrap; font-size: .9em; }
#add-ok { color: var(--green); font-size: .9em; }
#action-error { display: none; margin-bottom: .8em; padding: .6em .8em; border-radius: 5px; background: #fbe5e2; color: var(--red); }
#token-box { display: none; position: fixed; inset: 0; background: rgba(29,36,48,.55); align-items: center; justify-content: center; }
#token-box form { background: #fff; padding: 1.4em; border-radius: 8px; width: 24em; }
#token-box input { width: 100%; font: inherit; padding: .4em; margin: .6em 0; border: 1px solid var(--line); border-radius: 5px; }
#token-error { color: var(--red); font-size: .85em; }
</style></head>
<body>
<header>
  <h1>crawler</h1>
  <span class="meta">leader <b id="leader">…</b></span>
  <span class="meta">this master <b id="self">…</b> <span id="role"></span></span>
  <span class="right"><span class="meta" id="updated"></span><span id="conn">connecting</span></span>
</header>
<main>
  <h2>Tasks</h2>
  <div id="action-error" role="alert"></div>
  <div id="tasks"><div class="empty">Loading…</div></div>

  <h2>Workers</h2>
  <table><thead><tr><th>worker</th><th>address</th><th>health</th><th class="num">assigned</th>
  <th class="num">running</th><th class="num">pages/s</th><th>started</th><th>last answer</th></tr></thead>
  <tbody id="workers"></tbody></table>

  <h2>Add a task</h2>
  <form class="add" id="add-form">
    <textarea id="add-body" spellcheck="false" aria-label="task JSON">%EXAMPLE%</textarea>
    <div class="row"><button class="primary" type="submit" id="add-submit">Add task</button>
    <span class="meta">POST /crawler/resource · <code>{"name", "spec"?}</code> — a preset name alone, or a spec with <code>rule</code> or <code>rules</code></span>
    <span id="add-ok"></span></div>
    <div id="add-error" role="alert"></div>
  </form>
</main>
<div id="token-box"><form id="token-form">
  <b>This cluster needs an API token</b>
  <div class="meta">It is kept in this browser tab only (sessionStorage).</div>
  <input id="token-input" type="password" autocomplete="off" placeholder="token">
  <div id="token-error"></div>
  <button class="primary" type="submit">Use token</button>
</form></div>
<script>
"use strict";
const TOKEN_KEY = "crawler.token";
const $ = (id) => document.getElementById(id);
const esc = (v) => String(v == null ? "" : v).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const num = (n) => (n == null ? "–" : Number(n).toLocaleString("en-US"));
const rate = (n) => (n == null ? "–" : (n >= 10 ? Math.round(n) : Math.round(n * 10) / 10).toLocaleString("en-US"));
const cls = (s) => String(s || "").replace(/[^a-z]+/gi, "-").toLowerCase();
const ago = (ms) => { if (!ms) return "–"; const s = Math.max(0, Math.round((Date.now() - ms) / 1000)); return s < 60 ? s + " s ago" : s < 3600 ? Math.round(s / 60) + " min ago" : Math.round(s / 3600) + " h ago"; };
const clock = (ms) => new Date(ms).toLocaleTimeString("en-GB");

class AuthNeeded extends Error {}

%API_CLIENT%

function askToken(message) {
  $("token-error").textContent = message || "";
  $("token-box").style.display = "flex";
  $("token-input").focus();
}
$("token-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const token = $("token-input").value.trim();
  if (!token) return;
  sessionStorage.setItem(TOKEN_KEY, token);
  $("token-box").style.display = "none";
  $("token-input").value = "";
  refresh();
});

function sparkline(history, intervalMs) {
  const points = history.slice(-90);
  const w = 300, h = 40;
  const peak = Math.max(0, ...points);
  // Headroom above the peak, so a steady rate draws a line rather than a filled box.
  const max = Math.max(1, peak) * 1.2;
  if (points.length < 2) return '<svg class="spark" viewBox="0 0 300 40" preserveAspectRatio="none" data-points="0"></svg>';
  const step = w / (points.length - 1);
  const xy = points.map((v, i) => (i * step).toFixed(1) + "," + (h - 2 - (v / max) * (h - 6)).toFixed(1));
  const area = "0," + h + " " + xy.join(" ") + " " + w + "," + h;
  return '<svg class="spark" viewBox="0 0 300 40" preserveAspectRatio="none" data-points="' + points.length +
    '" data-peak="' + peak + '"><polygon points="' + area + '"/><polyline points="' + xy.join(" ") + '"/></svg>' +
    '<div class="spark-label"><span>' + Math.round(points.length * intervalMs / 1000) + ' s ago</span><span>peak ' + rate(peak) + ' pages/s</span><span>now</span></div>';
}

// Only http(s) URLs become links: a crawled page may hold any URL (javascript: too), and a link
// on this page runs with the API token at hand.
function link(url) {
  return /^https?:[/][/]/i.test(url)
    ? '<a href="' + esc(url) + '" target="_blank" rel="noreferrer noopener">' + esc(url) + "</a>"
    : "<span>" + esc(url) + "</span>";
}

function counter(key, value, bad) {
  return '<div class="counter' + (bad ? " bad" : "") + '"><div class="v">' + value + '</div><div class="k">' + key + "</div></div>";
}

function specSummary(resource) {
  const spec = resource.Spec;
  if (!spec) return "preset";
  const what = spec.rule ? "rule " + spec.rule : "declarative rules (" + Object.keys(spec.rules || {}).join(", ") + ")";
  return what + (spec.url ? " · " + spec.url : "");
}

// A host's politeness state (SPEC §8): delay in force, block, 429/503s, robots.txt refusals.
function politeness(h) {
  const parts = [];
  if (h.delayMs) parts.push("delay " + num(h.delayMs) + " ms");
  if (h.blockedUntil && h.blockedUntil > Date.now()) parts.push('<span class="e">blocked until ' + esc(clock(h.blockedUntil)) + "</span>");
  if (h.throttled) parts.push(num(h.throttled) + " × 429/503");
  if (h.disallowed) parts.push(num(h.disallowed) + " disallowed");
  return parts.length === 0 ? "" : '<div class="polite" data-field="politeness">' + parts.join(" · ") + "</div>";
}

// A placement that has not moved for a minute with work queued says why.
function stalledLine(placements) {
  const reasons = placements.filter((p) => p.counters && p.counters.stalled)
    .map((p) => p.workerId + ": " + p.counters.stalled);
  return reasons.length === 0 ? "" : '<div class="e" data-field="stalled">stalled: ' + esc(reasons.join("; ")) + "</div>";
}

// Tasks with sitemaps say how many sitemap files were read and how many page URLs they listed.
function sitemapLine(c) {
  return c.sitemaps ? '<div class="task-sub" data-field="sitemaps">sitemaps: ' + num(c.sitemaps) +
    " files read, " + num(c.sitemapUrls || 0) + " URLs found</div>" : "";
}

function taskCard(t, intervalMs) {
  const c = t.totals;
  const placements = t.placements.length === 0 ? '<span class="pill unassigned">no worker</span>' :
    t.placements.map((p) => '<span data-placement="' + esc(p.workerId) + '" data-state="' + esc(p.state) + '" title="' + esc(p.address + (p.error ? " — " + p.error : "")) + '">' + esc(p.workerId) +
      ' <span class="pill ' + cls(p.state) + '">' + esc(p.state) + "</span></span>").join("");
  const errors = t.errors.length === 0 ? '<div class="none">none</div>' : "<ul>" + t.errors.slice(0, 5).map((e) =>
    '<li title="' + esc(e.url + " — " + e.error + " (" + e.workerId + ")") + '"><div><span class="n">' + esc(clock(e.at)) +
    "</span>" + link(e.url) + '</div><div class="e">' + esc(e.error) + "</div></li>").join("") + "</ul>";
  const hosts = t.hosts.length === 0 ? '<div class="none">none yet</div>' : "<ul>" + t.hosts.slice(0, 5).map((h) =>
    '<li><div class="host"><span>' + esc(h.host) + '</span><span class="n">' + num(h.fetched) +
    (h.failed ? ' · <span class="e">' + num(h.failed) + " failed</span>" : "") + "</span></div>" +
    politeness(h) + "</li>").join("") + "</ul>";
  const pause = t.paused
    ? '<button data-action="resume" data-name="' + esc(t.name) + '">Resume</button>'
    : '<button data-action="pause" data-name="' + esc(t.name) + '">Pause</button>';
  return '<div class="task" data-task="' + esc(t.name) + '" data-state="' + esc(t.state) + '">' +
    '<div class="task-head"><span class="task-name">' + esc(t.name) + '</span><span class="pill ' + cls(t.state) + '" data-field="state">' + esc(t.state) + "</span>" +
    '<span class="actions">' + pause + deleteButton(t.name) + "</span></div>" +
    '<div class="task-sub">' + esc(specSummary(t.resource)) + "</div>" +
    stalledLine(t.placements) + sitemapLine(c) +
    '<div class="counters">' +
      counter("fetched", '<span data-field="fetched">' + num(c.fetched) + "</span>") +
      counter("queued", num(c.queued)) + counter("leased", num(c.leased)) +
      counter("failed", num(c.failed), c.failed > 0) + counter("items", '<span data-field="items">' + num(c.items) + "</span>") +
      counter("pages/s", '<span data-field="rate">' + rate(t.pagesPerSecond) + "</span>") + "</div>" +
    sparkline(t.history, intervalMs) +
    '<div class="placements">' + placements + "</div>" + downloads(t.name) +
    '<div class="lists"><div><h3>Last errors</h3>' + errors + '</div><div><h3>Busiest hosts</h3>' + hosts + "</div></div></div>";
}

// The task's items as a file. The link works as is where no token is needed; the page fetches
// it with the token instead and saves the blob under the name the server gives.
function downloads(name) {
  const path = "/crawler/resource/" + encodeURIComponent(name) + "/items?format=";
  return '<div class="downloads">' + ["jsonl", "csv"].map((format) =>
    '<a href="' + esc(path + format) + '" data-download="' + format + '" data-name="' + esc(name) + '" download="' +
    esc(name + "." + format) + '">Download ' + format.toUpperCase() + "</a>").join("") + "</div>";
}

async function download(name, format) {
  const headers = {};
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.authorization = "Bearer " + token;
  const response = await fetch("/crawler/resource/" + encodeURIComponent(name) + "/items?format=" + format, { headers });
  if (response.status === 401) { askToken(token ? "That token was refused." : ""); throw new AuthNeeded("token needed"); }
  if (!response.ok) {
    const text = await response.text();
    let data = {};
    try { data = JSON.parse(text); } catch { data = { error: text }; }
    throw new Error(data.error || ("HTTP " + response.status));
  }
  const url = URL.createObjectURL(await response.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = name + "." + format;
  document.body.appendChild(a);
  a.click();
  a.remove();
  // The save has begun by now; the blob can go once it has had time to be written.
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

$("tasks").addEventListener("click", async (e) => {
  const link = e.target.closest("a[data-download]");
  if (!link) return;
  e.preventDefault();
  const box = $("action-error");
  box.style.display = "none";
  try {
    await download(link.dataset.name, link.dataset.download);
  } catch (error) {
    if (!(error instanceof AuthNeeded)) {
      box.textContent = "download " + link.dataset.name + ": " + error.message;
      box.style.display = "block";
    }
  }
});

// Delete asks for a second click within a few seconds. The armed state lives here, not in the
// button, because the cards are drawn again on every refresh.
const armed = new Map();
function deleteButton(name) {
  const on = (armed.get(name) || 0) > Date.now();
  return '<button class="danger' + (on ? " armed" : "") + '" data-action="delete" data-name="' + esc(name) + '">' + (on ? "Delete?" : "Delete") + "</button>";
}

function workerRow(w) {
  return "<tr data-worker=\\"" + esc(w.id) + "\\"><td>" + esc(w.id) + "</td><td>" + esc(w.address) + '</td><td><span class="pill ' + cls(w.health) + '" title="' + esc(w.error || "") + '">' + esc(w.health) +
    '</span></td><td class="num">' + num(w.payload) + '</td><td class="num">' + num(w.running) + '</td><td class="num">' + rate(w.pagesPerSecond) +
    "</td><td>" + esc(ago(Date.parse(w.startTime))) + "</td><td>" + esc(ago(w.lastSeen)) + "</td></tr>";
}

let busy = false;
async function refresh() {
  if (busy) return;
  busy = true;
  try {
    const cluster = await api("GET", "/crawler/cluster");
    $("leader").textContent = cluster.leader || "none elected";
    $("self").textContent = cluster.self;
    $("role").innerHTML = cluster.isLeader ? '<span class="pill running">leader</span>' : '<span class="pill">follower</span>';
    $("tasks").innerHTML = cluster.tasks.length === 0
      ? '<div class="empty">No tasks yet. Add one below.</div>'
      : cluster.tasks.map((t) => taskCard(t, cluster.sampleIntervalMs)).join("");
    $("workers").innerHTML = cluster.workers.length === 0
      ? '<tr><td colspan="8" class="empty">No worker is registered.</td></tr>'
      : cluster.workers.map(workerRow).join("");
    $("updated").textContent = "updated " + clock(cluster.at);
    $("conn").textContent = "live";
    $("conn").className = "";
  } catch (error) {
    if (!(error instanceof AuthNeeded)) {
      $("conn").textContent = "unreachable: " + error.message;
      $("conn").className = "bad";
    }
  } finally {
    busy = false;
  }
}

$("tasks").addEventListener("click", async (e) => {
  const button = e.target.closest("button[data-action]");
  if (!button) return;
  const name = button.dataset.name;
  const action = button.dataset.action;
  if (action === "delete" && !((armed.get(name) || 0) > Date.now())) {
    armed.set(name, Date.now() + 4000);
    button.outerHTML = deleteButton(name);
    return;
  }
  armed.delete(name);
  button.disabled = true;
  const box = $("action-error");
  box.style.display = "none";
  try {
    if (action === "delete") await api("DELETE", "/crawler/resource", JSON.stringify({ name }));
    else await api("POST", "/crawler/resource/" + encodeURIComponent(name) + "/" + action);
  } catch (error) {
    if (!(error instanceof AuthNeeded)) {
      box.textContent = action + " " + name + ": " + error.message;
      box.style.display = "block";
    }
  }
  refresh();
});

$("add-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const box = $("add-error");
  box.style.display = "none";
  $("add-ok").textContent = "";
  const text = $("add-body").value;
  let body;
  try {
    body = JSON.parse(text);
  } catch (error) {
    box.textContent = "Not valid JSON: " + error.message;
    box.style.display = "block";
    return;
  }
  try {
    const node = await api("POST", "/crawler/resource", JSON.stringify(body));
    $("add-ok").textContent = "Added " + (body.name || "") + " on " + node.id + " (" + node.Address + ")";
  } catch (error) {
    if (error instanceof AuthNeeded) return;
    box.textContent = error.message;
    box.style.display = "block";
  }
  refresh();
});

refresh();
setInterval(refresh, 2000);
</script>
</body></html>`;
