/**
 * @module
 * The dashboard in a real headless Chromium (Debian's `chromium`, driven by `puppeteer-core`)
 * against a real cluster: etcd, two `crawler master` processes and a `crawler worker`, crawling a
 * local fixture site. The page is opened on the follower, as an operator could open any master.
 * Through the page: a bad spec shows the error, a task is added, its counters rise and the
 * sparkline draws, it is paused (counters stop), resumed (it crawls again) and deleted. A
 * screenshot taken during the crawl is left in the test's temp dir (its path is printed).
 */
import assert from "node:assert/strict";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { startDoubanFixture } from "./douban_fixture.ts";
import { Cluster, waitFor } from "./kit/mod.ts";

// Globals of the page, for the functions that run inside it (this file is not type-checked
// with the DOM library: it would clash with Deno's own types).
interface PageElement {
  textContent: string | null;
  value?: string;
  getAttribute(name: string): string | null;
}
declare const document: { querySelector(selector: string): PageElement | null };
declare function getComputedStyle(element: unknown): { display: string };

/** Where Debian puts Chromium; `CHROMIUM_PATH` overrides it. */
const CHROMIUM = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";

/** Flags for a quiet, self-contained headless run that talks to nothing but loopback. */
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--window-size=1300,1000",
];

/** Fails with what to install when there is no Chromium. */
async function requireChromium(): Promise<void> {
  try {
    await Deno.stat(CHROMIUM);
  } catch {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM}: the dashboard test needs a real browser. ` +
        `Install Debian's package with "apt-get install -y chromium" (or set CHROMIUM_PATH).`,
    );
  }
}

async function launchChromium(userDataDir: string): Promise<Browser> {
  return await puppeteer.launch({
    executablePath: CHROMIUM,
    userDataDir,
    args: CHROMIUM_ARGS,
    defaultViewport: { width: 1300, height: 1000 },
  });
}

/** The number a task card shows in `field` (`fetched`, `items`, `rate`), commas removed. */
async function cardNumber(page: Page, task: string, field: string): Promise<number> {
  const text = await page.$eval(
    `.task[data-task="${task}"] [data-field="${field}"]`,
    (element) => element.textContent ?? "",
  );
  return Number(text.replaceAll(",", ""));
}

async function cardState(page: Page, task: string): Promise<string | undefined> {
  return await page.$eval(`.task[data-task="${task}"]`, (e) => e.getAttribute("data-state"))
    .catch(() => undefined) ?? undefined;
}

async function click(page: Page, task: string, action: string): Promise<void> {
  await page.click(`.task[data-task="${task}"] button[data-action="${action}"]`);
}

async function submitSpec(page: Page, body: string): Promise<void> {
  await page.$eval("#add-body", (element, value) => {
    (element as unknown as PageElement).value = value as string;
  }, body);
  await page.click("#add-submit");
}

Deno.test("the dashboard adds, shows, pauses, resumes and deletes a task in a real browser", async (t) => {
  await requireChromium();
  const site = startDoubanFixture({ tags: 20, booksPerTag: 50, failOnceEvery: 0 });
  // The screenshot, the artifact of this test, is kept in a directory of its own.
  const dir = await Deno.makeTempDir({ prefix: "crawler_dashboard_" });
  // The cluster is protected by an API token (docs/operating.md, "Auth"): the page must ask for it,
  // and the masters must send it when they ask the worker for its status.
  const token = "dashboard-test-token";
  await using cluster = await Cluster.start({ masters: 2, workers: 1, ttlSeconds: 3, token });
  const masters = [...cluster.masters.values()];
  const worker = cluster.workers.get(1)!;
  let browser: Browser | undefined;
  try {
    browser = await launchChromium(`${dir}/chromium-profile`);
    const leader = await cluster.leader();
    const follower = masters.find((m) => m !== leader)!;
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(String(error)));
    // The page shows errors inline; a dialog would block it (and this test) until dismissed.
    page.on("dialog", async (dialog) => {
      pageErrors.push(`dialog: ${dialog.message()}`);
      await dialog.dismiss();
    });
    await page.goto(follower.url("/"), { waitUntil: "load" });

    await cluster.step(t, "the page asks for the token once and keeps it in the tab", async () => {
      await page.waitForSelector("#token-box", { visible: true, timeout: 10_000 });
      await page.type("#token-input", "wrong");
      await page.click('#token-form button[type="submit"]');
      await page.waitForFunction(
        () => document.querySelector("#token-error")?.textContent === "That token was refused.",
        { timeout: 10_000 },
      );
      await page.type("#token-input", token);
      await page.click('#token-form button[type="submit"]');
      await page.waitForFunction(
        () => document.querySelector("#conn")?.textContent === "live",
        { timeout: 10_000 },
      );
      assert.equal(await page.$eval("#token-box", (e) => getComputedStyle(e).display), "none");
      // A reload in the same tab asks nothing: the token is in sessionStorage.
      await page.reload({ waitUntil: "load" });
      await page.waitForFunction(
        () => document.querySelector("#conn")?.textContent === "live",
        { timeout: 10_000 },
      );
      assert.equal(await page.$eval("#token-box", (e) => getComputedStyle(e).display), "none");
    });

    await cluster.step(t, "the page shows the leader, this master and the worker", async () => {
      await page.waitForFunction(
        (id) =>
          document.querySelector("#conn")?.textContent === "live" &&
          document.querySelector('#workers tr[data-worker="' + id + '"] .pill')?.textContent ===
            "ok",
        { timeout: 20_000 },
        worker.id,
      );
      assert.equal(await page.$eval("#leader", (e) => e.textContent), leader.id);
      assert.equal(await page.$eval("#self", (e) => e.textContent), follower.id);
    });

    await cluster.step(t, "a bad spec shows the error and adds nothing", async () => {
      await submitSpec(page, '{"name": "broken", "spec": {"rule": "douban_book_list"');
      await page.waitForFunction(
        () => document.querySelector("#add-error")?.textContent?.startsWith("Not valid JSON"),
        { timeout: 5000 },
      );
      await submitSpec(
        page,
        '{"name": "broken", "spec": {"rule": "douban_book_list", "maxDepth": -1}}',
      );
      await page.waitForFunction(
        () => document.querySelector("#add-error")?.textContent?.includes("spec.maxDepth"),
        { timeout: 5000 },
      );
      const shown = await page.$eval("#add-error", (e) => getComputedStyle(e).display);
      assert.equal(shown, "block");
      const { body } = await leader.request("/crawler/resource");
      assert.deepEqual(body.resources, []);
    });

    await cluster.step(
      t,
      "a task added through the form crawls: counters rise, the sparkline draws",
      async () => {
        const spec = {
          rule: "douban_book_list",
          url: `${site.url}/`,
          waitTime: 0,
          limits: [{ eventCount: 12, eventDur: 1, bucket: 3 }],
        };
        await submitSpec(page, JSON.stringify({ name: "books", spec }));
        await page.waitForFunction(
          () => document.querySelector("#add-ok")?.textContent?.startsWith("Added books"),
          { timeout: 10_000 },
        );
        assert.equal(await page.$eval("#add-error", (e) => getComputedStyle(e).display), "none");
        await waitFor(async () => await cardNumber(page, "books", "fetched") > 0, {
          what: "pages fetched",
          timeoutMs: 20_000,
        });
        const first = await cardNumber(page, "books", "fetched");
        await waitFor(async () => await cardNumber(page, "books", "fetched") > first, {
          what: "the counter to rise",
          timeoutMs: 20_000,
        });
        // The sparkline has a line with a point above its baseline: a nonzero rate was drawn.
        await page.waitForFunction(
          (name) => {
            const line = document.querySelector(
              '.task[data-task="' + name + '"] svg.spark polyline',
            );
            const points = (line?.getAttribute("points") ?? "").split(" ").filter(Boolean);
            return points.length >= 2 && points.some((p: string) => Number(p.split(",")[1]) < 30);
          },
          { timeout: 20_000 },
          "books",
        );
        assert.ok(await cardNumber(page, "books", "rate") > 0);
        assert.equal(await cardState(page, "books"), "running");
        // A second task that can only fail, so the screenshot shows errors with their URLs.
        await leader.request("/crawler/resource", {
          method: "POST",
          json: {
            name: "unreachable_site",
            spec: { rule: "douban_book_list", url: "http://127.0.0.1:9/" },
          },
        });
        await page.waitForFunction(
          () => document.querySelector('.task[data-task="unreachable_site"] .lists a') !== null,
          { timeout: 20_000 },
        );
        const shot = `${dir}/dashboard.png`;
        await page.screenshot({ path: shot, fullPage: true });
        assert.ok((await Deno.stat(shot)).size > 10_000);
        console.log(`dashboard screenshot: ${shot}`);
      },
    );

    await cluster.step(t, "paused from the page, its counters stop", async () => {
      await click(page, "books", "pause");
      await waitFor(async () => await cardState(page, "books") === "paused", {
        what: "the card to show paused",
        timeoutMs: 10_000,
      });
      await page.waitForSelector('.task[data-task="books"] button[data-action="resume"]');
      assert.equal(await page.$eval("#action-error", (e) => getComputedStyle(e).display), "none");
      // Two polls of the worker later, the count is where the pause left it.
      const paused = await cardNumber(page, "books", "fetched");
      const requests = site.log.length;
      const since = Date.now();
      await waitFor(async () => {
        const { body } = await follower.request("/crawler/cluster");
        return (body.polledAt as number) > since + 4000;
      }, { what: "two more polls", timeoutMs: 15_000 });
      assert.equal(await cardNumber(page, "books", "fetched"), paused);
      assert.equal(await cardNumber(page, "books", "rate"), 0);
      assert.equal(site.log.length, requests, "no page was fetched while paused");
    });

    await cluster.step(t, "resumed from the page, it crawls again", async () => {
      const requests = site.log.length;
      await click(page, "books", "resume");
      await waitFor(async () => await cardState(page, "books") === "running", {
        what: "the card to show running",
        timeoutMs: 10_000,
      });
      const first = await cardNumber(page, "books", "fetched");
      await waitFor(
        async () =>
          await cardNumber(page, "books", "fetched") > first && site.log.length > requests,
        { what: "the counter to rise again", timeoutMs: 20_000 },
      );
    });

    await cluster.step(t, "deleted from the page (two clicks), it is gone", async () => {
      await click(page, "books", "delete");
      await page.waitForSelector('.task[data-task="books"] button.armed');
      await click(page, "books", "delete");
      await page.waitForFunction(
        () => document.querySelector('.task[data-task="books"]') === null,
        { timeout: 10_000 },
      );
      const { body } = await leader.request("/crawler/resource");
      assert.deepEqual((body.resources as Array<{ Name: string }>).map((r) => r.Name), [
        "unreachable_site",
      ]);
    });

    assert.deepEqual(pageErrors, [], "the page threw no error");
  } catch (error) {
    cluster.dumpLogs();
    throw error;
  } finally {
    await browser?.close();
    await site.close();
    // The temp dir stays: it holds the screenshot, the artifact of this test.
  }
});
