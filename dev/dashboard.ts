/**
 * @module
 * The dashboard `crawler dev` serves at `/`: one self-contained page that polls the HTTP API
 * (leader, workers, resources, and the in-process worker's tasks) and adds or deletes
 * resources through it.
 */

/** The dashboard's HTML. It talks to the API of the origin it is served from. */
export function dashboardPage(): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>crawler</title>
<style>
 body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
 h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 1.6em; }
 table { border-collapse: collapse; } td, th { padding: .25em .8em; border-bottom: 1px solid #ddd; text-align: left; }
 th { background: #f4f4f4; } .num { text-align: right; font-variant-numeric: tabular-nums; }
 textarea { width: 40em; height: 8em; font-family: monospace; } .error { color: #b00; }
 button { cursor: pointer; }
</style></head>
<body>
<h1>crawler</h1>
<p>Leader: <b id="leader">…</b></p>
<h2>Tasks on this worker</h2>
<table><thead><tr><th>task</th><th>state</th><th class="num">fetched</th><th class="num">queued</th><th class="num">in flight</th><th class="num">failed</th><th class="num">items</th><th>error</th></tr></thead><tbody id="tasks"></tbody></table>
<h2>Resources</h2>
<table><thead><tr><th>name</th><th>id</th><th>assigned to</th><th></th></tr></thead><tbody id="resources"></tbody></table>
<h2>Add a resource</h2>
<form id="add"><textarea id="body">{"name": "books", "spec": {"rule": "douban_book_list", "url": "http://127.0.0.1:8088/", "waitTime": 0, "limits": []}}</textarea><br>
<button>POST /crawler/resource</button> <span id="answer"></span></form>
<h2>Workers</h2>
<table><thead><tr><th>id</th><th>address</th><th class="num">resources</th></tr></thead><tbody id="workers"></tbody></table>
<script>
const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;","'":"&#39;"})[c]);
const get = async (path) => { const r = await fetch(path); return r.ok ? r.json() : undefined; };
async function refresh() {
  try {
    const [leader, workers, resources, tasks] = await Promise.all([
      get("/crawler/leader"), get("/crawler/workers"), get("/crawler/resource"), get("/worker/tasks"),
    ]);
    document.getElementById("leader").textContent = leader?.leader || "none";
    document.getElementById("workers").innerHTML = (workers?.workers ?? []).map((w) =>
      "<tr><td>" + esc(w.id) + "</td><td>" + esc(w.address) + '</td><td class="num">' + esc(w.payload) + "</td></tr>").join("");
    document.getElementById("resources").innerHTML = (resources?.resources ?? []).map((r) =>
      "<tr><td>" + esc(r.Name) + "</td><td>" + esc(r.ID) + "</td><td>" + esc(r.AssignedNode) +
      '</td><td><button data-name="' + esc(r.Name) + '">delete</button></td></tr>').join("");
    document.getElementById("tasks").innerHTML = (tasks?.tasks ?? []).map((t) => {
      const s = t.stats ?? {};
      return "<tr><td>" + esc(t.name) + "</td><td>" + esc(t.state) + '</td><td class="num">' + esc(s.fetched) +
        '</td><td class="num">' + esc(s.queued) + '</td><td class="num">' + esc(s.inFlight) + '</td><td class="num">' +
        esc(s.failed) + '</td><td class="num">' + esc(s.items) + '</td><td class="error">' + esc(t.error) + "</td></tr>";
    }).join("");
  } catch (e) { document.getElementById("leader").textContent = "unreachable: " + e; }
}
document.getElementById("resources").addEventListener("click", async (e) => {
  const name = e.target.dataset?.name; if (!name) return;
  const r = await fetch("/crawler/resource", { method: "DELETE", headers: { "content-type": "application/json" }, body: JSON.stringify({ name }) });
  if (!r.ok) alert((await r.json()).error);
  refresh();
});
document.getElementById("add").addEventListener("submit", async (e) => {
  e.preventDefault();
  const r = await fetch("/crawler/resource", { method: "POST", headers: { "content-type": "application/json" }, body: document.getElementById("body").value });
  const answer = document.getElementById("answer");
  answer.className = r.ok ? "" : "error";
  answer.textContent = r.status + " " + await r.text();
  refresh();
});
refresh(); setInterval(refresh, 2000);
</script></body></html>`;
}
