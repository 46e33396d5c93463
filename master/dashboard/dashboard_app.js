// deno-fmt-ignore-file
// deno-lint-ignore-file
// Made from dashboard_app.ts by `deno task dashboard` (bundle.ts): do not edit.
// sources: sha-256 748ae174e673f08e2bb6c3ceee4ade2211cb3de050b27cd7d3b298d5fc58ef7d
// api_client.ts
var AuthNeeded = class extends Error {
};
var WRITE_RETRY_MS = 3e4;
function newIdempotencyKey() {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}
function apiClient(deps) {
  return async function api2(method, path, body) {
    const write = method !== "GET";
    const key = write ? newIdempotencyKey() : void 0;
    const deadline = Date.now() + WRITE_RETRY_MS;
    for (let attempt = 0; ; attempt++) {
      const headers = {};
      const token = deps.token();
      if (token) headers.authorization = "Bearer " + token;
      if (body !== void 0) headers["content-type"] = "application/json";
      if (key) headers["idempotency-key"] = key;
      const wait = Math.min(1e3, 200 * 2 ** attempt);
      let response;
      try {
        response = await deps.fetch(path, {
          method,
          headers,
          body
        });
      } catch (error) {
        if (write && Date.now() + wait < deadline) {
          await new Promise((r) => setTimeout(r, wait));
          continue;
        }
        throw error;
      }
      if (response.status === 401) {
        deps.askToken(token ? "That token was refused." : "");
        throw new AuthNeeded("token needed");
      }
      const data = parseAnswer(await response.text());
      if (write && response.status === 503 && Date.now() + wait < deadline) {
        await new Promise((r) => setTimeout(r, wait));
        continue;
      }
      if (!response.ok) throw new Error(errorOf(data, response.status));
      return data;
    }
  };
}
function parseAnswer(text) {
  try {
    return text ? JSON.parse(text) : {};
  } catch {
    return {
      error: text
    };
  }
}
function errorOf(data, status) {
  return String(data.error || "HTTP " + status);
}

// recrawl_line.ts
var num = (n) => Number(n).toLocaleString("en-US");
function dueIn(at, now) {
  const s = Math.round((at - now) / 1e3);
  if (s <= 0) return "now";
  const h = Math.floor(s / 3600);
  const m = Math.floor(s % 3600 / 60);
  if (h > 0) return "in " + h + " h" + (m > 0 ? " " + m + " min" : "");
  if (m > 0) return "in " + m + " min" + (s % 60 > 0 ? " " + s % 60 + " s" : "");
  return "in " + s + " s";
}
function recrawlLine(recrawl, now) {
  if (!recrawl) return "";
  const next = recrawl.nextDueAt === void 0 ? "nothing scheduled" : '<span data-field="next-due">next visit due ' + dueIn(recrawl.nextDueAt, now) + "</span>";
  return '<div class="task-sub" data-field="recrawl">' + next + " \xB7 due " + num(recrawl.due) + " / scheduled " + num(recrawl.scheduled) + ' \xB7 <span data-field="revisits">revisits ' + num(recrawl.revisits) + " (304: " + num(recrawl.notModified) + ", unchanged " + num(recrawl.unchanged) + ", changed " + num(recrawl.changed) + ")</span></div>";
}

// render_line.ts
var num2 = (n) => Number(n).toLocaleString("en-US");
var plural = (n, one, many) => num2(n) + " " + (n === 1 ? one : many);
function renderLine(render, bounds) {
  if (!render) return "";
  const times = render.seconds.flatMap((count, i) => count === 0 ? [] : [
    (i < bounds.length ? "\u2264" + bounds[i] : ">" + bounds[bounds.length - 1]) + " s: " + num2(count)
  ]);
  return '<div class="task-sub" data-field="render">rendered: ' + plural(render.rendered, "page", "pages") + ", " + num2(render.failed) + " failed \xB7 " + num2(render.open) + " open \xB7 " + plural(render.restarts, "browser restart", "browser restarts") + (times.length === 0 ? "" : ' \xB7 <span data-field="render-times">render time ' + times.join(", ") + "</span>") + "</div>";
}

// dashboard_app.ts
var TOKEN_KEY = "crawler.token";
function $(id) {
  return document.getElementById(id);
}
var ESCAPES = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;"
};
var esc = (v) => String(v == null ? "" : v).replace(/[&<>"']/g, (c) => ESCAPES[c]);
var num3 = (n) => n == null ? "\u2013" : Number(n).toLocaleString("en-US");
var rate = (n) => n == null ? "\u2013" : (n >= 10 ? Math.round(n) : Math.round(n * 10) / 10).toLocaleString("en-US");
var cls = (s) => String(s || "").replace(/[^a-z]+/gi, "-").toLowerCase();
var ago = (ms) => {
  if (!ms) return "\u2013";
  const s = Math.max(0, Math.round((Date.now() - ms) / 1e3));
  return s < 60 ? s + " s ago" : s < 3600 ? Math.round(s / 60) + " min ago" : Math.round(s / 3600) + " h ago";
};
var clock = (ms) => new Date(ms).toLocaleTimeString("en-GB");
var messageOf = (error) => error instanceof Error ? error.message : String(error);
var api = apiClient({
  fetch: (path, init) => fetch(path, init),
  token: () => sessionStorage.getItem(TOKEN_KEY),
  askToken
});
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
  const max = Math.max(1, peak) * 1.2;
  if (points.length < 2) {
    return '<svg class="spark" viewBox="0 0 300 40" preserveAspectRatio="none" data-points="0"></svg>';
  }
  const step = w / (points.length - 1);
  const xy = points.map((v, i) => (i * step).toFixed(1) + "," + (h - 2 - v / max * (h - 6)).toFixed(1));
  const area = "0," + h + " " + xy.join(" ") + " " + w + "," + h;
  return '<svg class="spark" viewBox="0 0 300 40" preserveAspectRatio="none" data-points="' + points.length + '" data-peak="' + peak + '"><polygon points="' + area + '"/><polyline points="' + xy.join(" ") + '"/></svg><div class="spark-label"><span>' + Math.round(points.length * intervalMs / 1e3) + " s ago</span><span>peak " + rate(peak) + " pages/s</span><span>now</span></div>";
}
function link(url) {
  return /^https?:[/][/]/i.test(url) ? '<a href="' + esc(url) + '" target="_blank" rel="noreferrer noopener">' + esc(url) + "</a>" : "<span>" + esc(url) + "</span>";
}
function counter(key, value, bad) {
  return '<div class="counter' + (bad ? " bad" : "") + '"><div class="v">' + value + '</div><div class="k">' + key + "</div></div>";
}
function specSummary(resource) {
  const spec = resource.Spec;
  if (!spec) return "preset";
  const what = "rule" in spec && spec.rule ? "rule " + spec.rule : "declarative rules (" + Object.keys("rules" in spec && spec.rules || {}).join(", ") + ")";
  return what + (spec.url ? " \xB7 " + spec.url : "");
}
function politeness(h) {
  const parts = [];
  if (h.delayMs) parts.push("delay " + num3(h.delayMs) + " ms");
  if (h.blockedUntil && h.blockedUntil > Date.now()) {
    parts.push('<span class="e">blocked until ' + esc(clock(h.blockedUntil)) + "</span>");
  }
  if (h.throttled) parts.push(num3(h.throttled) + " \xD7 429/503");
  if (h.disallowed) parts.push(num3(h.disallowed) + " disallowed");
  return parts.length === 0 ? "" : '<div class="polite" data-field="politeness">' + parts.join(" \xB7 ") + "</div>";
}
function stalledLine(placements) {
  const reasons = placements.filter((p) => p.counters && p.counters.stalled).map((p) => p.workerId + ": " + p.counters?.stalled);
  return reasons.length === 0 ? "" : '<div class="e" data-field="stalled">stalled: ' + esc(reasons.join("; ")) + "</div>";
}
function sitemapLine(c) {
  return c.sitemaps ? '<div class="task-sub" data-field="sitemaps">sitemaps: ' + num3(c.sitemaps) + " files read, " + num3(c.sitemapUrls || 0) + " URLs found</div>" : "";
}
function taskCard(t, cluster) {
  const c = t.totals;
  const placements = t.placements.length === 0 ? '<span class="pill unassigned">no worker</span>' : t.placements.map((p) => '<span data-placement="' + esc(p.workerId) + '" data-state="' + esc(p.state) + '" title="' + esc(p.address + (p.error ? " \u2014 " + p.error : "")) + '">' + esc(p.workerId) + ' <span class="pill ' + cls(p.state) + '">' + esc(p.state) + "</span></span>").join("");
  const errors = t.errors.length === 0 ? '<div class="none">none</div>' : "<ul>" + t.errors.slice(0, 5).map((e) => '<li title="' + esc(e.url + " \u2014 " + e.error + " (" + e.workerId + ")") + '"><div><span class="n">' + esc(clock(e.at)) + "</span>" + link(e.url) + '</div><div class="e">' + esc(e.error) + "</div></li>").join("") + "</ul>";
  const hosts = t.hosts.length === 0 ? '<div class="none">none yet</div>' : "<ul>" + t.hosts.slice(0, 5).map((h) => '<li><div class="host"><span>' + esc(h.host) + '</span><span class="n">' + num3(h.fetched) + (h.failed ? ' \xB7 <span class="e">' + num3(h.failed) + " failed</span>" : "") + "</span></div>" + politeness(h) + "</li>").join("") + "</ul>";
  const pause = t.paused ? '<button data-action="resume" data-name="' + esc(t.name) + '">Resume</button>' : '<button data-action="pause" data-name="' + esc(t.name) + '">Pause</button>';
  return '<div class="task" data-task="' + esc(t.name) + '" data-state="' + esc(t.state) + '"><div class="task-head"><span class="task-name">' + esc(t.name) + '</span><span class="pill ' + cls(t.state) + '" data-field="state">' + esc(t.state) + '</span><span class="actions">' + pause + deleteButton(t.name) + '</span></div><div class="task-sub">' + esc(specSummary(t.resource)) + "</div>" + stalledLine(t.placements) + sitemapLine(c) + renderLine(c.render, cluster.renderSeconds) + recrawlLine(c.recrawl, cluster.at) + '<div class="counters">' + counter("fetched", '<span data-field="fetched">' + num3(c.fetched) + "</span>") + counter("queued", num3(c.queued)) + counter("leased", num3(c.leased)) + counter("failed", num3(c.failed), c.failed > 0) + counter("items", '<span data-field="items">' + num3(c.items) + "</span>") + counter("pages/s", '<span data-field="rate">' + rate(t.pagesPerSecond) + "</span>") + "</div>" + sparkline(t.history, cluster.sampleIntervalMs) + '<div class="placements">' + placements + "</div>" + downloads(t.name) + '<div class="lists"><div><h3>Last errors</h3>' + errors + "</div><div><h3>Busiest hosts</h3>" + hosts + "</div></div></div>";
}
function downloads(name) {
  const path = "/crawler/resource/" + encodeURIComponent(name) + "/items?format=";
  return '<div class="downloads">' + [
    "jsonl",
    "csv"
  ].map((format) => '<a href="' + esc(path + format) + '" data-download="' + format + '" data-name="' + esc(name) + '" download="' + esc(name + "." + format) + '">Download ' + format.toUpperCase() + "</a>").join("") + "</div>";
}
async function download(name, format) {
  const headers = {};
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.authorization = "Bearer " + token;
  const response = await fetch("/crawler/resource/" + encodeURIComponent(name) + "/items?format=" + format, {
    headers
  });
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
  setTimeout(() => URL.revokeObjectURL(url), 6e4);
}
function clicked(e, selector) {
  return e.target instanceof Element ? e.target.closest(selector) : null;
}
$("tasks").addEventListener("click", async (e) => {
  const link2 = clicked(e, "a[data-download]");
  if (!link2) return;
  e.preventDefault();
  const name = link2.dataset.name ?? "";
  const box = $("action-error");
  box.style.display = "none";
  try {
    await download(name, link2.dataset.download ?? "");
  } catch (error) {
    if (!(error instanceof AuthNeeded)) {
      box.textContent = "download " + name + ": " + messageOf(error);
      box.style.display = "block";
    }
  }
});
var armed = /* @__PURE__ */ new Map();
function deleteButton(name) {
  const on = (armed.get(name) || 0) > Date.now();
  return '<button class="danger' + (on ? " armed" : "") + '" data-action="delete" data-name="' + esc(name) + '">' + (on ? "Delete?" : "Delete") + "</button>";
}
function workerRow(w) {
  return '<tr data-worker="' + esc(w.id) + '"><td>' + esc(w.id) + "</td><td>" + esc(w.address) + '</td><td><span class="pill ' + cls(w.health) + '" title="' + esc(w.error || "") + '">' + esc(w.health) + '</span></td><td class="num">' + num3(w.payload) + '</td><td class="num">' + num3(w.running) + '</td><td class="num">' + rate(w.pagesPerSecond) + "</td><td>" + esc(ago(Date.parse(w.startTime))) + "</td><td>" + esc(ago(w.lastSeen)) + "</td></tr>";
}
var busy = false;
async function refresh() {
  if (busy) return;
  busy = true;
  try {
    const cluster = await api("GET", "/crawler/cluster");
    $("leader").textContent = cluster.leader || "none elected";
    $("self").textContent = cluster.self;
    $("role").innerHTML = cluster.isLeader ? '<span class="pill running">leader</span>' : '<span class="pill">follower</span>';
    $("tasks").innerHTML = cluster.tasks.length === 0 ? '<div class="empty">No tasks yet. Add one below.</div>' : cluster.tasks.map((t) => taskCard(t, cluster)).join("");
    $("workers").innerHTML = cluster.workers.length === 0 ? '<tr><td colspan="8" class="empty">No worker is registered.</td></tr>' : cluster.workers.map(workerRow).join("");
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
  const button = clicked(e, "button[data-action]");
  if (!button) return;
  const name = button.dataset.name ?? "";
  const action = button.dataset.action;
  if (action === "delete" && !((armed.get(name) || 0) > Date.now())) {
    armed.set(name, Date.now() + 4e3);
    button.outerHTML = deleteButton(name);
    return;
  }
  armed.delete(name);
  button.disabled = true;
  const box = $("action-error");
  box.style.display = "none";
  try {
    if (action === "delete") await api("DELETE", "/crawler/resource", JSON.stringify({
      name
    }));
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
  const text = $("add-body").value;
  let body;
  try {
    body = JSON.parse(text);
  } catch (error) {
    box.textContent = "Not valid JSON: " + messageOf(error);
    box.style.display = "block";
    return;
  }
  try {
    const node = await api("POST", "/crawler/resource", JSON.stringify(body));
    $("add-ok").textContent = "Added " + (body.name || "") + " on " + node.id + " (" + node.Address + ")";
  } catch (error) {
    if (error instanceof AuthNeeded) return;
    box.textContent = messageOf(error);
    box.style.display = "block";
  }
  refresh();
});
refresh();
setInterval(refresh, 2e3);
