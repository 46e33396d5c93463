/**
 * @module
 * The dashboard's script, run by the browser (`index.html` loads it as `dashboard_app.js`, the
 * bundle `deno task dashboard` makes of it). It polls `GET /crawler/cluster` and draws every task
 * with its placements, state, counters summed over its workers (a recrawl task's revisits and
 * next visit too), a pages/s sparkline, its last errors and busiest hosts, the workers with their
 * load and health, and the leader; it adds, deletes, pauses and resumes tasks through the same HTTP API, and downloads a task's items as
 * JSONL or CSV. When the API answers 401 it asks for the token once and keeps it in
 * `sessionStorage`, sending `Authorization: Bearer …` (a download too: it is fetched with the
 * header and saved from a blob, since a plain link cannot carry it).
 *
 * It is type-checked with the DOM's types (this folder's `deno.json`) against the types the
 * server answers with; only types are imported from the server's modules, so the bundle holds
 * this file, `api_client.ts`, `recrawl_line.ts` and `render_line.ts` alone.
 */
import type { AddResourceResponse } from "../../proto/api_bodies.ts";
import type { ResourceSpec } from "../../proto/resource_spec.ts";
import type {
  ClusterSnapshot,
  HostView,
  PlacementView,
  TaskCounters,
  TaskView,
  WorkerView,
} from "../cluster_view.ts";
import { apiClient, AuthNeeded, errorOf, parseAnswer } from "./api_client.ts";
import { recrawlLine } from "./recrawl_line.ts";
import { renderLine } from "./render_line.ts";

const TOKEN_KEY = "crawler.token";

/** The page's element with that id (the page has all it asks for). */
function $<T extends HTMLElement = HTMLElement>(id: string): T {
  return document.getElementById(id) as T;
}
const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};
const esc = (v: unknown) => String(v == null ? "" : v).replace(/[&<>"']/g, (c) => ESCAPES[c]);
const num = (n: number | undefined) => (n == null ? "–" : Number(n).toLocaleString("en-US"));
const rate = (n: number | undefined) =>
  n == null ? "–" : (n >= 10 ? Math.round(n) : Math.round(n * 10) / 10).toLocaleString("en-US");
const cls = (s: string | undefined) => String(s || "").replace(/[^a-z]+/gi, "-").toLowerCase();
const ago = (ms: number | undefined) => {
  if (!ms) return "–";
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return s < 60
    ? s + " s ago"
    : s < 3600
    ? Math.round(s / 60) + " min ago"
    : Math.round(s / 3600) + " h ago";
};
const clock = (ms: number) => new Date(ms).toLocaleTimeString("en-GB");
const messageOf = (error: unknown) => error instanceof Error ? error.message : String(error);

const api = apiClient({
  fetch: (path, init) => fetch(path, init),
  token: () => sessionStorage.getItem(TOKEN_KEY),
  askToken,
});

function askToken(message: string): void {
  $("token-error").textContent = message || "";
  $("token-box").style.display = "flex";
  $("token-input").focus();
}
$("token-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const token = $<HTMLInputElement>("token-input").value.trim();
  if (!token) return;
  sessionStorage.setItem(TOKEN_KEY, token);
  $("token-box").style.display = "none";
  $<HTMLInputElement>("token-input").value = "";
  refresh();
});

function sparkline(history: number[], intervalMs: number): string {
  const points = history.slice(-90);
  const w = 300, h = 40;
  const peak = Math.max(0, ...points);
  // Headroom above the peak, so a steady rate draws a line rather than a filled box.
  const max = Math.max(1, peak) * 1.2;
  if (points.length < 2) {
    return '<svg class="spark" viewBox="0 0 300 40" preserveAspectRatio="none" data-points="0">' +
      "</svg>";
  }
  const step = w / (points.length - 1);
  const xy = points.map((v, i) =>
    (i * step).toFixed(1) + "," + (h - 2 - (v / max) * (h - 6)).toFixed(1)
  );
  const area = "0," + h + " " + xy.join(" ") + " " + w + "," + h;
  return '<svg class="spark" viewBox="0 0 300 40" preserveAspectRatio="none" data-points="' +
    points.length +
    '" data-peak="' + peak + '"><polygon points="' + area + '"/><polyline points="' +
    xy.join(" ") + '"/></svg>' +
    '<div class="spark-label"><span>' + Math.round(points.length * intervalMs / 1000) +
    " s ago</span><span>peak " + rate(peak) + " pages/s</span><span>now</span></div>";
}

// Only http(s) URLs become links: a crawled page may hold any URL (javascript: too), and a link
// on this page runs with the API token at hand.
function link(url: string): string {
  return /^https?:[/][/]/i.test(url)
    ? '<a href="' + esc(url) + '" target="_blank" rel="noreferrer noopener">' + esc(url) + "</a>"
    : "<span>" + esc(url) + "</span>";
}

function counter(key: string, value: string, bad?: boolean): string {
  return '<div class="counter' + (bad ? " bad" : "") + '"><div class="v">' + value +
    '</div><div class="k">' + key + "</div></div>";
}

function specSummary(resource: ResourceSpec): string {
  const spec = resource.Spec;
  if (!spec) return "preset";
  const what = "rule" in spec && spec.rule ? "rule " + spec.rule : "declarative rules (" +
    Object.keys(("rules" in spec && spec.rules) || {}).join(", ") + ")";
  return what + (spec.url ? " · " + spec.url : "");
}

// A host's politeness state (docs/frontier.md, "Politeness"): delay in force, block, 429/503s,
// robots.txt refusals.
function politeness(h: HostView): string {
  const parts: string[] = [];
  if (h.delayMs) parts.push("delay " + num(h.delayMs) + " ms");
  if (h.blockedUntil && h.blockedUntil > Date.now()) {
    parts.push('<span class="e">blocked until ' + esc(clock(h.blockedUntil)) + "</span>");
  }
  if (h.throttled) parts.push(num(h.throttled) + " × 429/503");
  if (h.disallowed) parts.push(num(h.disallowed) + " disallowed");
  return parts.length === 0
    ? ""
    : '<div class="polite" data-field="politeness">' + parts.join(" · ") + "</div>";
}

// A placement that has not moved for a minute with work queued says why.
function stalledLine(placements: PlacementView[]): string {
  const reasons = placements.filter((p) => p.counters && p.counters.stalled)
    .map((p) => p.workerId + ": " + p.counters?.stalled);
  return reasons.length === 0
    ? ""
    : '<div class="e" data-field="stalled">stalled: ' + esc(reasons.join("; ")) + "</div>";
}

// Tasks with sitemaps say how many sitemap files were read and how many page URLs they listed.
function sitemapLine(c: TaskCounters): string {
  return c.sitemaps
    ? '<div class="task-sub" data-field="sitemaps">sitemaps: ' + num(c.sitemaps) +
      " files read, " + num(c.sitemapUrls || 0) + " URLs found</div>"
    : "";
}

function taskCard(t: TaskView, cluster: ClusterSnapshot): string {
  const c = t.totals;
  const placements = t.placements.length === 0
    ? '<span class="pill unassigned">no worker</span>'
    : t.placements.map((p) =>
      '<span data-placement="' + esc(p.workerId) + '" data-state="' + esc(p.state) +
      '" title="' + esc(p.address + (p.error ? " — " + p.error : "")) + '">' + esc(p.workerId) +
      ' <span class="pill ' + cls(p.state) + '">' + esc(p.state) + "</span></span>"
    ).join("");
  const errors = t.errors.length === 0 ? '<div class="none">none</div>' : "<ul>" +
    t.errors.slice(0, 5).map((e) =>
      '<li title="' + esc(e.url + " — " + e.error + " (" + e.workerId + ")") +
      '"><div><span class="n">' + esc(clock(e.at)) + "</span>" + link(e.url) +
      '</div><div class="e">' + esc(e.error) + "</div></li>"
    ).join("") + "</ul>";
  const hosts = t.hosts.length === 0 ? '<div class="none">none yet</div>' : "<ul>" +
    t.hosts.slice(0, 5).map((h) =>
      '<li><div class="host"><span>' + esc(h.host) + '</span><span class="n">' + num(h.fetched) +
      (h.failed ? ' · <span class="e">' + num(h.failed) + " failed</span>" : "") +
      "</span></div>" + politeness(h) + "</li>"
    ).join("") + "</ul>";
  const pause = t.paused
    ? '<button data-action="resume" data-name="' + esc(t.name) + '">Resume</button>'
    : '<button data-action="pause" data-name="' + esc(t.name) + '">Pause</button>';
  return '<div class="task" data-task="' + esc(t.name) + '" data-state="' + esc(t.state) + '">' +
    '<div class="task-head"><span class="task-name">' + esc(t.name) + '</span><span class="pill ' +
    cls(t.state) + '" data-field="state">' + esc(t.state) + "</span>" +
    '<span class="actions">' + pause + deleteButton(t.name) + "</span></div>" +
    '<div class="task-sub">' + esc(specSummary(t.resource)) + "</div>" +
    stalledLine(t.placements) + sitemapLine(c) + renderLine(c.render, cluster.renderSeconds) +
    recrawlLine(c.recrawl, cluster.at) +
    '<div class="counters">' +
    counter("fetched", '<span data-field="fetched">' + num(c.fetched) + "</span>") +
    counter("queued", num(c.queued)) + counter("leased", num(c.leased)) +
    counter("failed", num(c.failed), c.failed > 0) +
    counter("items", '<span data-field="items">' + num(c.items) + "</span>") +
    counter("pages/s", '<span data-field="rate">' + rate(t.pagesPerSecond) + "</span>") +
    "</div>" +
    sparkline(t.history, cluster.sampleIntervalMs) +
    '<div class="placements">' + placements + "</div>" + downloads(t.name) +
    '<div class="lists"><div><h3>Last errors</h3>' + errors +
    "</div><div><h3>Busiest hosts</h3>" + hosts + "</div></div></div>";
}

// The task's items as a file. The link works as is where no token is needed; the page fetches
// it with the token instead and saves the blob under the name the server gives.
function downloads(name: string): string {
  const path = "/crawler/resource/" + encodeURIComponent(name) + "/items?format=";
  return '<div class="downloads">' +
    ["jsonl", "csv"].map((format) =>
      '<a href="' + esc(path + format) + '" data-download="' + format + '" data-name="' +
      esc(name) + '" download="' + esc(name + "." + format) + '">Download ' +
      format.toUpperCase() + "</a>"
    ).join("") + "</div>";
}

async function download(name: string, format: string): Promise<void> {
  const headers: Record<string, string> = {};
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.authorization = "Bearer " + token;
  const response = await fetch(
    "/crawler/resource/" + encodeURIComponent(name) + "/items?format=" + format,
    { headers },
  );
  if (response.status === 401) {
    askToken(token ? "That token was refused." : "");
    throw new AuthNeeded("token needed");
  }
  if (!response.ok) {
    throw new Error(errorOf(parseAnswer(await response.text()), response.status));
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

/** The element matching `selector` the click landed in, if any. */
function clicked<T extends Element>(e: Event, selector: string): T | null {
  return e.target instanceof Element ? e.target.closest<T>(selector) : null;
}

$("tasks").addEventListener("click", async (e) => {
  const link = clicked<HTMLAnchorElement>(e, "a[data-download]");
  if (!link) return;
  e.preventDefault();
  const name = link.dataset.name ?? "";
  const box = $("action-error");
  box.style.display = "none";
  try {
    await download(name, link.dataset.download ?? "");
  } catch (error) {
    if (!(error instanceof AuthNeeded)) {
      box.textContent = "download " + name + ": " + messageOf(error);
      box.style.display = "block";
    }
  }
});

// Delete asks for a second click within a few seconds. The armed state lives here, not in the
// button, because the cards are drawn again on every refresh.
const armed = new Map<string, number>();
function deleteButton(name: string): string {
  const on = (armed.get(name) || 0) > Date.now();
  return '<button class="danger' + (on ? " armed" : "") + '" data-action="delete" data-name="' +
    esc(name) + '">' + (on ? "Delete?" : "Delete") + "</button>";
}

function workerRow(w: WorkerView): string {
  return '<tr data-worker="' + esc(w.id) + '"><td>' + esc(w.id) + "</td><td>" + esc(w.address) +
    '</td><td><span class="pill ' + cls(w.health) + '" title="' + esc(w.error || "") + '">' +
    esc(w.health) + '</span></td><td class="num">' + num(w.payload) + '</td><td class="num">' +
    num(w.running) + '</td><td class="num">' + rate(w.pagesPerSecond) + "</td><td>" +
    esc(ago(Date.parse(w.startTime))) + "</td><td>" + esc(ago(w.lastSeen)) + "</td></tr>";
}

let busy = false;
/** Draws the cluster once. It never rejects: a failure shows in the header's `#conn`. */
async function refresh(): Promise<void> {
  if (busy) return;
  busy = true;
  try {
    const cluster = await api<ClusterSnapshot>("GET", "/crawler/cluster");
    $("leader").textContent = cluster.leader || "none elected";
    $("self").textContent = cluster.self;
    $("role").innerHTML = cluster.isLeader
      ? '<span class="pill running">leader</span>'
      : '<span class="pill">follower</span>';
    $("tasks").innerHTML = cluster.tasks.length === 0
      ? '<div class="empty">No tasks yet. Add one below.</div>'
      : cluster.tasks.map((t) => taskCard(t, cluster)).join("");
    $("workers").innerHTML = cluster.workers.length === 0
      ? '<tr><td colspan="8" class="empty">No worker is registered.</td></tr>'
      : cluster.workers.map(workerRow).join("");
    $("updated").textContent = "updated " + clock(cluster.at);
    $("conn").textContent = "live";
    $("conn").className = "";
  } catch (error) {
    if (!(error instanceof AuthNeeded)) {
      $("conn").textContent = "unreachable: " + messageOf(error);
      $("conn").className = "bad";
    }
  } finally {
    busy = false;
  }
}

$("tasks").addEventListener("click", async (e) => {
  const button = clicked<HTMLButtonElement>(e, "button[data-action]");
  if (!button) return;
  const name = button.dataset.name ?? "";
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
      box.textContent = action + " " + name + ": " + messageOf(error);
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
  const text = $<HTMLTextAreaElement>("add-body").value;
  let body: { name?: string };
  try {
    body = JSON.parse(text);
  } catch (error) {
    box.textContent = "Not valid JSON: " + messageOf(error);
    box.style.display = "block";
    return;
  }
  try {
    const node = await api<AddResourceResponse>(
      "POST",
      "/crawler/resource",
      JSON.stringify(body),
    );
    $("add-ok").textContent = "Added " + (body.name || "") + " on " + node.id + " (" +
      node.Address + ")";
  } catch (error) {
    if (error instanceof AuthNeeded) return;
    box.textContent = messageOf(error);
    box.style.display = "block";
  }
  refresh();
});

refresh();
setInterval(refresh, 2000);
