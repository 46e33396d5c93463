/**
 * @module
 * The dashboard every master serves at `/` (and `crawler dev` too): the files in `dashboard/`,
 * the page (`index.html`), its stylesheet and its script, all served by the master itself with no
 * build step at run time and nothing fetched from elsewhere. The script (`dashboard_app.ts`,
 * served as its committed bundle `dashboard_app.js`) polls `GET /crawler/cluster` and draws every
 * task with its placements, state, counters summed over its workers, a pages/s sparkline, its
 * last errors and busiest hosts, the workers with their load and health, and the leader; it adds,
 * deletes, pauses and resumes tasks through the same HTTP API, and downloads a task's items as
 * JSONL or CSV. When the API answers 401 it asks for the token once and keeps it in
 * `sessionStorage`, sending `Authorization: Bearer …` (a download too: it is fetched with the
 * header and saved from a blob, since a plain link cannot carry it).
 *
 * The files are read from beside this module, not from the working directory, so `deno run` from
 * anywhere and a `deno compile` binary (whose `compile` task `--include`s them) serve the same.
 */
import type { Hono } from "hono";

/** The example a new user can add as is: the demo site's task (`deno task demo-site`). */
export const DASHBOARD_EXAMPLE_SPEC = {
  name: "demo_books",
  spec: { rule: "douban_book_list", url: "http://127.0.0.1:8088/", waitTime: 0, limits: [] },
};

/** Where the page's script is served; `index.html` loads it from there. */
export const DASHBOARD_SCRIPT_PATH = "/dashboard/dashboard_app.js";
/** Where the page's stylesheet is served; `index.html` links it from there. */
export const DASHBOARD_STYLE_PATH = "/dashboard/dashboard.css";

/**
 * The dashboard's paths. They hold no data, so they are served without the token: the page asks
 * for it and sends it with each call of the API.
 */
export const DASHBOARD_PATHS: readonly string[] = [
  "/",
  DASHBOARD_SCRIPT_PATH,
  DASHBOARD_STYLE_PATH,
];

/** One file of the dashboard, as it is served. */
export interface DashboardFile {
  path: string;
  contentType: string;
  body: string;
}

const DIR = new URL("./dashboard/", import.meta.url);

/** A file of `dashboard/`, read now (throws `NotFound` when a binary was compiled without it). */
function read(name: string): string {
  return Deno.readTextFileSync(new URL(name, DIR));
}

/** The page's HTML, the example task in its form. It talks to the API of the origin it is from. */
export function dashboardPage(): string {
  const example = JSON.stringify(DASHBOARD_EXAMPLE_SPEC, null, 2)
    .replaceAll("&", "&amp;").replaceAll("<", "&lt;");
  return read("index.html").replace("%EXAMPLE%", () => example);
}

/** The page, its script and its stylesheet, read now, with the paths they are served at. */
export function dashboardFiles(): DashboardFile[] {
  return [
    { path: "/", contentType: "text/html; charset=utf-8", body: dashboardPage() },
    {
      path: DASHBOARD_SCRIPT_PATH,
      contentType: "text/javascript; charset=utf-8",
      body: read("dashboard_app.js"),
    },
    {
      path: DASHBOARD_STYLE_PATH,
      contentType: "text/css; charset=utf-8",
      body: read("dashboard.css"),
    },
  ];
}

/**
 * Serves the dashboard's files on `app`. They are read once, here, so a missing file fails the
 * master at startup rather than its first visitor.
 */
export function addDashboardRoutes(app: Hono): void {
  for (const file of dashboardFiles()) {
    // `no-cache`: a browser asks again (cheaply) rather than run an older master's script.
    const headers = { "content-type": file.contentType, "cache-control": "no-cache" };
    app.get(file.path, (c) => c.body(file.body, 200, headers));
  }
}
