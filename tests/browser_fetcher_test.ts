/**
 * The browser fetcher against a real Chromium (Debian's `chromium`, or `CHROMIUM_PATH`) and a
 * local site whose pages build themselves from a JSON API after `load`.
 */
import assert from "node:assert/strict";
import { FetchError } from "../spider/fetcher.ts";
import { silentLogger } from "../log/logger.ts";
import { BrowserFetcher, type BrowserFetcherOptions } from "../spider/browser/browser_fetcher.ts";
import { chromiumPath, requireBrowserFor } from "../spider/browser/chromium_binary.ts";
import { processesWithProfileIn, reapOrphanBrowsers } from "../spider/browser/browser_processes.ts";
import type { LaunchReason } from "../spider/browser/browser_pool.ts";
import type { Task } from "../spider/task.ts";
import { every, holdsFor, waitFor } from "./kit/wait.ts";

const CHROMIUM = chromiumPath();

/** Fails with what to install when there is no Chromium (`deno task test` installs it). */
async function requireChromium(): Promise<void> {
  try {
    await Deno.stat(CHROMIUM);
  } catch {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM}: the browser fetcher's tests need it. ` +
        `Install Debian's package with "apt-get install -y chromium" (or set CHROMIUM_PATH).`,
    );
  }
}

interface Site {
  url: string;
  /** `host path` of every request, in order. */
  seen: string[];
  /** The `Cookie` header of each request, by path. */
  cookies: Map<string, string | null>;
  close(): Promise<void>;
}

/**
 * `/app/<x>`: a page that fetches `/api/<x>` on `load` (answered after `apiDelayMs`) and writes
 * it into `#app`, with an image, a third-party beacon (localhost) and `document.cookie`.
 * `/slow-read`: reads an answer of its own for a second, then writes it into `#app`.
 * `/forever`: polls its API every 100 ms. `/download`: an attachment. `/status/<n>`: that status.
 */
function startSite(apiDelayMs = 200): Site {
  const seen: string[] = [];
  const cookies = new Map<string, string | null>();
  const server: Deno.HttpServer<Deno.NetAddr> = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
  }, async (req): Promise<Response> => {
    const url = new URL(req.url);
    seen.push(`${req.headers.get("host")} ${url.pathname}`);
    cookies.set(url.pathname, req.headers.get("cookie"));
    const html = (body: string, init: ResponseInit = {}) =>
      new Response(`<!DOCTYPE html><html><head></head><body>${body}</body></html>`, {
        ...init,
        headers: { "content-type": "text/html; charset=utf-8", ...init.headers },
      });
    if (url.pathname.startsWith("/api/")) {
      await new Promise((resolve) => setTimeout(resolve, apiDelayMs));
      return Response.json({ title: `Title of ${url.pathname.slice(5)}` });
    }
    if (url.pathname.startsWith("/app/")) {
      return html(
        `<div id="app">empty</div><img src="/pic.png"><script>
addEventListener("load", async () => {
  fetch("http://localhost:${port}/beacon").catch(() => {});
  const data = await (await fetch("/api/${url.pathname.slice(5)}")).json();
  document.getElementById("app").innerHTML =
    '<h1 class="title">' + data.title + '</h1><p class="cookie">' + document.cookie + "</p>";
});</script>`,
      );
    }
    if (url.pathname === "/slow-read") {
      // An answer the page reads for a second with nothing on the network meanwhile: a body
      // streamed from the page itself (the network can look idle while a page's answer is still
      // on its way to its script, as under load).
      return html(
        `<div id="app">empty</div><script>
addEventListener("load", async () => {
  const body = new ReadableStream({
    start(controller) {
      setTimeout(() => {
        controller.enqueue(new TextEncoder().encode('{"title":"read late"}'));
        controller.close();
      }, 1000);
    },
  });
  const data = await new Response(body).json();
  document.getElementById("app").innerHTML = '<h1 class="title">' + data.title + "</h1>";
});</script>`,
      );
    }
    if (url.pathname === "/forever") {
      return html(`<script>setInterval(() => fetch("/api/ping").catch(() => {}), 100)</script>`);
    }
    if (url.pathname === "/download") {
      return new Response("binary", {
        headers: {
          "content-type": "application/octet-stream",
          "content-disposition": 'attachment; filename="x.bin"',
        },
      });
    }
    const status = /^\/status\/(\d+)$/.exec(url.pathname);
    if (status) {
      return html("<p>status page</p>", {
        status: Number(status[1]),
        headers: { "retry-after": "7" },
      });
    }
    if (url.pathname === "/pic.png") {
      return new Response("png", { headers: { "content-type": "image/png" } });
    }
    return html(`<p>plain ${url.pathname}</p>`);
  });
  const port: number = server.addr.port;
  return { url: `http://127.0.0.1:${port}`, seen, cookies, close: () => server.shutdown() };
}

/** A fetcher with a fresh browser dir, and what it launched. */
async function fetcher(
  options: Partial<BrowserFetcherOptions> = {},
): Promise<{ browser: BrowserFetcher; dataDir: string; launches: LaunchReason[] }> {
  await requireChromium();
  const dataDir = await Deno.makeTempDir({ prefix: "crawler_browser_test_" });
  const launches: LaunchReason[] = [];
  const browser = new BrowserFetcher({
    dataDir,
    logger: silentLogger,
    idleMs: 300,
    timeoutMs: 10_000,
    observer: { rendered() {}, launched: (reason) => launches.push(reason) },
    ...options,
  });
  return { browser, dataDir, launches };
}

async function failure(promise: Promise<unknown>): Promise<FetchError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof FetchError, `expected a FetchError, got ${error}`);
    return error;
  }
  assert.fail("expected the fetch to fail");
}

Deno.test("a page that fills itself from its API after load is read complete, with the task's cookie, and loads nothing else", async () => {
  const site = startSite(200);
  const { browser, dataDir } = await fetcher();
  try {
    const page = await browser.fetch({
      url: `${site.url}/app/one`,
      method: "GET",
      cookie: "session=s3cr3t; lang=en",
      render: {},
    });
    assert.equal(page.status, 200);
    assert.equal(page.url, `${site.url}/app/one`);
    assert.match(
      page.body,
      /<h1 class="title">Title of one<\/h1>/,
      "network idle waited for the API",
    );
    assert.match(page.body, /session=s3cr3t; lang=en/, "the page sees the task's cookie");
    assert.equal(site.cookies.get("/api/one"), "session=s3cr3t; lang=en", "and so do its requests");
    assert.equal(page.contentType, "text/html; charset=utf-8");
    assert.equal(page.bytes, new TextEncoder().encode(page.body).byteLength);

    // Read at `load`, the same page is still empty: the default wait is what makes it whole.
    const early = await browser.fetch({
      url: `${site.url}/app/two`,
      method: "GET",
      render: { waitUntil: "load" },
    });
    assert.match(early.body, /<div id="app">empty<\/div>/);
    // …and `waitFor` waits for the element itself.
    const waited = await browser.fetch({
      url: `${site.url}/app/three`,
      method: "GET",
      render: { waitUntil: "domcontentloaded", waitFor: "h1.title" },
    });
    assert.match(waited.body, /Title of three/);
    assert.equal(waited.body.includes("s3cr3t"), false, "another task's cookie is not kept");

    assert.deepEqual(site.seen.filter((s) => !s.startsWith("127.0.0.1:")), [], "no third party");
    assert.equal(site.seen.filter((s) => s.endsWith("/pic.png")).length, 0, "no image");
    assert.equal(site.seen.filter((s) => s.endsWith("/favicon.ico")).length, 0, "no favicon");
  } finally {
    await browser.shutdown();
    await site.close();
  }
  assert.deepEqual(processesWithProfileIn(dataDir), [], "no Chromium left after shutdown");
  await Deno.remove(dataDir, { recursive: true });
});

Deno.test("a page is read once its script has the answers it asked for, network or not", async () => {
  const site = startSite();
  const { browser } = await fetcher();
  try {
    const page = await browser.fetch({ url: `${site.url}/slow-read`, method: "GET", render: {} });
    assert.match(page.body, /<h1 class="title">read late<\/h1>/);
  } finally {
    await browser.shutdown();
    await site.close();
  }
});

Deno.test("third parties load when allowed; images stay blocked", async () => {
  const site = startSite(0);
  const { browser, dataDir } = await fetcher({ allowThirdParty: true, block: ["image"] });
  try {
    const page = await browser.fetch({ url: `${site.url}/app/x`, method: "GET", render: {} });
    assert.match(page.body, /Title of x/);
    assert.ok(site.seen.some((s) => s.startsWith("localhost:") && s.endsWith("/beacon")));
    assert.equal(site.seen.filter((s) => s.endsWith("/pic.png")).length, 0);
  } finally {
    await browser.shutdown();
    await site.close();
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("file:, chrome: and data: URLs and downloads are refused for good; HTTP errors keep their status", async () => {
  const site = startSite(0);
  const { browser, dataDir } = await fetcher();
  try {
    for (const url of ["file:///etc/passwd", "chrome://settings", "data:text/html,<p>hi</p>"]) {
      const error = await failure(browser.fetch({ url, method: "GET", render: {} }));
      assert.equal(error.retriable, false, url);
      assert.match(error.message, /refused to render/);
    }
    assert.equal(browser.stats().launches, 0, "refused before any browser was needed");
    const download = await failure(
      browser.fetch({ url: `${site.url}/download`, method: "GET", render: {} }),
    );
    assert.equal(download.retriable, false);
    assert.match(download.message, /download/);
    const missing = await failure(
      browser.fetch({ url: `${site.url}/status/404`, method: "GET", render: {} }),
    );
    assert.equal(missing.status, 404);
    assert.equal(missing.retriable, false);
    const busy = await failure(
      browser.fetch({ url: `${site.url}/status/503`, method: "GET", render: {} }),
    );
    assert.equal(busy.status, 503);
    assert.equal(busy.retriable, true);
    assert.equal(busy.retryAfter, "7");
    const fine = await browser.fetch({ url: `${site.url}/after`, method: "GET", render: {} });
    assert.match(fine.body, /plain \/after/);
  } finally {
    await browser.shutdown();
    await site.close();
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("a page that never settles fails with a retriable render timeout, and the next page renders", async () => {
  const site = startSite(0);
  const { browser, dataDir } = await fetcher({ timeoutMs: 2000, maxPages: 1 });
  try {
    const started = performance.now();
    const error = await failure(
      browser.fetch({ url: `${site.url}/forever`, method: "GET", render: {} }),
    );
    assert.match(error.message, /^render timeout: .*\/forever was not ready after 2000 ms/);
    assert.equal(error.retriable, true);
    assert.ok(performance.now() - started < 8000, "the deadline held");
    // The one slot is free for the next page, and the timed-out page was closed: it polls no
    // more (every 100 ms while open), for 300 ms on end.
    const next = await browser.fetch({ url: `${site.url}/app/next`, method: "GET", render: {} });
    assert.match(next.body, /Title of next/);
    const pings = () => site.seen.filter((s) => s.endsWith("/api/ping")).length;
    const polls = pings();
    await holdsFor(() => pings() === polls, { what: "no more pings", forMs: 300 });
  } finally {
    await browser.shutdown();
    await site.close();
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("never more than maxPages pages open, and a browser retires after retireAfterPages", async () => {
  const site = startSite(50);
  const { browser, dataDir, launches } = await fetcher({ maxPages: 2, retireAfterPages: 4 });
  let maxOpen = 0;
  // Sampled through the DevTools protocol: every page target of every live browser.
  const sampler = every(20, async () => {
    let open = 0;
    for (const handle of browser.pool.browsers()) {
      open += await handle.browser.pages().then((pages) => pages.length, () => 0);
    }
    maxOpen = Math.max(maxOpen, open);
  });
  try {
    const renders = 16;
    const pages = await Promise.all(
      Array.from(
        { length: renders },
        (_, i) => browser.fetch({ url: `${site.url}/app/p${i}`, method: "GET", render: {} }),
      ),
    );
    pages.forEach((page, i) => assert.match(page.body, new RegExp(`Title of p${i}<`)));
    assert.ok(maxOpen >= 1 && maxOpen <= 2, `pages open at once: ${maxOpen}`);
    assert.ok(launches.length >= renders / 4, `launches: ${launches}`);
    assert.equal(launches[0], "first");
    assert.ok(launches.slice(1).every((reason) => reason === "retired"), `${launches}`);
  } finally {
    await sampler.stop();
    await browser.shutdown();
    await site.close();
  }
  assert.deepEqual(processesWithProfileIn(dataDir), []);
  await Deno.remove(dataDir, { recursive: true });
});

Deno.test("a browser that crashes mid-render fails that page as retriable and the next one relaunches", async () => {
  const site = startSite(3000);
  const { browser, dataDir, launches } = await fetcher();
  try {
    const rendering = failure(
      browser.fetch({ url: `${site.url}/app/slow`, method: "GET", render: {} }),
    );
    // Kill it while the page waits for its slow API.
    await waitFor(() => site.seen.some((s) => s.endsWith("/api/slow")), {
      what: "the page to ask its API",
      timeoutMs: 15_000,
    });
    const [handle] = browser.pool.browsers();
    Deno.kill(-handle.pid, "SIGKILL");
    const error = await rendering;
    assert.equal(error.retriable, true);
    assert.match(error.message, /browser went away/);
    const next = await browser.fetch({
      url: `${site.url}/plain`,
      method: "GET",
      render: { waitUntil: "load" },
    });
    assert.match(next.body, /plain \/plain/);
    assert.deepEqual(launches, ["first", "crashed"]);
  } finally {
    await browser.shutdown();
    await site.close();
  }
  assert.deepEqual(processesWithProfileIn(dataDir), []);
  await Deno.remove(dataDir, { recursive: true });
});

Deno.test("the browsers a killed worker left are killed when the next one starts", async () => {
  const site = startSite(0);
  const { browser: first, dataDir } = await fetcher();
  try {
    await first.fetch({ url: `${site.url}/plain`, method: "GET", render: { waitUntil: "load" } });
    const left = processesWithProfileIn(dataDir);
    assert.ok(left.length > 0);
    // As after kill -9: nobody closed them. The next fetcher on the dir finds the pid file.
    const result = reapOrphanBrowsers(dataDir, { logger: silentLogger });
    assert.ok(result.killed > 0);
    await waitFor(() => processesWithProfileIn(dataDir).length === 0, {
      what: "the orphans to be gone",
      timeoutMs: 10_000,
    });
    assert.equal(
      [...Deno.readDirSync(dataDir)].filter((e) => e.name.startsWith("profile-")).length,
      0,
      "their profiles are gone",
    );
  } finally {
    await first.shutdown();
    await site.close();
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("without Chromium a page fails for good, and a browser task cannot start, naming [browser] executablePath", async () => {
  const { browser, dataDir } = await fetcher({ executablePath: "/nonexistent/chromium" });
  try {
    const error = await failure(
      browser.fetch({ url: "http://127.0.0.1:9/", method: "GET", render: {} }),
    );
    assert.equal(error.retriable, false);
    assert.match(error.message, /\[browser\] executablePath/);
  } finally {
    await browser.shutdown();
    await Deno.remove(dataDir, { recursive: true });
  }
  const task = (fetcher?: "browser") =>
    ({
      options: { name: "t", url: "", waitTime: 0, reload: false, maxDepth: 1, limits: [], fetcher },
      ruleSet: { name: "t", defaults: { url: "" }, root: () => [], rules: {} },
    }) satisfies Task;
  assert.throws(
    () => requireBrowserFor(task("browser"), "/nonexistent/chromium"),
    /Chromium not found at \/nonexistent\/chromium.*\[browser\] executablePath/,
  );
  requireBrowserFor(task(), "/nonexistent/chromium"); // an HTTP task needs none
});
