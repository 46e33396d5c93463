/**
 * @module
 * The dashboard's downloads in a real headless Chromium (Debian's `chromium`, driven by
 * `puppeteer-core`) against `crawler dev` with an API token: after a crawl of the local fixture,
 * the task card's "Download CSV" and "Download JSONL" links save files holding every stored item.
 * The page fetches them with the token it keeps, which a plain link could not send.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import puppeteer, { type Browser } from "puppeteer-core";
import { startDev, waitFor } from "./kit/mod.ts";
import { startDoubanFixture } from "./douban_fixture.ts";
import { parseCsvFileWithPython } from "./python_csv.ts";

/** The page's `document`, as far as this test uses it (not type-checked with the DOM library). */
interface PageDocument {
  createElement(tag: string): {
    setAttribute(name: string, value: string): void;
    click(): void;
    remove(): void;
  };
  getElementById(id: string): { appendChild(node: unknown): void };
}

/** Where Debian puts Chromium; `CHROMIUM_PATH` overrides it. */
const CHROMIUM = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";

/** Waits until `path` exists and Chromium has finished writing it. */
async function downloaded(path: string): Promise<string> {
  await waitFor(async () => {
    try {
      await Deno.stat(path);
      await Deno.stat(`${path}.crdownload`).then(() => {
        throw new Error("still downloading");
      }, () => {});
      return true;
    } catch {
      return false;
    }
  }, { what: `${path} to be downloaded`, timeoutMs: 20_000 });
  return path;
}

Deno.test("the dashboard's task card downloads the task's items as CSV and JSONL, with the token", async () => {
  try {
    await Deno.stat(CHROMIUM);
  } catch {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM}: this test needs a real browser. Install Debian's ` +
        `package with "apt-get install -y chromium" (or set CHROMIUM_PATH).`,
    );
  }
  const site = startDoubanFixture({ tags: 2, booksPerTag: 6, gbkEvery: 2, failOnceEvery: 0 });
  const dir = await Deno.makeTempDir({ prefix: "crawler_export_browser_" });
  const token = "download-token";
  const dev = await startDev({ cwd: dir, token });
  let browser: Browser | undefined;
  try {
    await waitFor(async () => {
      return (await dev.request("/crawler/leader")).body.isLeader === true;
    }, { what: "a leader", timeoutMs: 20_000 });
    const spec = { rule: "douban_book_list", url: `${site.url}/`, waitTime: 0, limits: [] };
    const added = await dev.request("/crawler/resource", {
      method: "POST",
      json: { name: "books", spec },
    });
    assert.equal(added.status, 200, JSON.stringify(added.body));
    await waitFor(async () => {
      const { body } = await dev.request("/worker/tasks");
      return (body.tasks as Array<{ state: string }>)[0]?.state === "finished";
    }, { what: "the crawl to finish", timeoutMs: 20_000 });
    const db = new DatabaseSync(`${dir}/data/crawler.db`, { readOnly: true });
    const stored = db.prepare(`SELECT url, "书名" FROM "books" ORDER BY id`).all()
      .map((row) => [String(row.url), String(row.书名)]);
    db.close();
    assert.equal(stored.length, site.books.length);

    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      userDataDir: `${dir}/chromium-profile`,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(String(error)));
    const downloads = `${dir}/downloads`;
    await Deno.mkdir(downloads);
    const cdp = await page.createCDPSession();
    await cdp.send("Browser.setDownloadBehavior", { behavior: "allow", downloadPath: downloads });

    await page.goto(dev.url("/"), { waitUntil: "load" });
    await page.waitForSelector("#token-box", { visible: true, timeout: 10_000 });
    await page.type("#token-input", token);
    await page.click('#token-form button[type="submit"]');
    const csvLink = '.task[data-task="books"] a[data-download="csv"]';
    await page.waitForSelector(csvLink, { timeout: 10_000 });
    assert.equal(await page.$eval(csvLink, (e) => e.textContent), "Download CSV");

    await page.click(csvLink);
    const csv = await parseCsvFileWithPython(await downloaded(`${downloads}/books.csv`));
    assert.deepEqual(csv[0], [
      "rule",
      "url",
      "time",
      "书名",
      "作者",
      "页数",
      "出版社",
      "得分",
      "价格",
      "简介",
    ]);
    assert.deepEqual(csv.slice(1).map((r) => [r[1], r[3]]), stored);

    await page.click('.task[data-task="books"] a[data-download="jsonl"]');
    const jsonl = await Deno.readTextFile(await downloaded(`${downloads}/books.jsonl`));
    const lines = jsonl.trimEnd().split("\n").map((line) => JSON.parse(line));
    assert.deepEqual(lines.map((o) => [o.url, o.书名]), stored);

    // A refusal is shown, not saved as the file; without a token the page asks for one. Each
    // try clicks a download link like a card's, for a task of that name. (Run in the page: this
    // file is type-checked without the DOM library, hence the casts.)
    const attempt = (name: string) =>
      page.evaluate((task) => {
        const { document } = globalThis as unknown as { document: PageDocument };
        const link = document.createElement("a");
        link.setAttribute("data-download", "csv");
        link.setAttribute("data-name", task);
        document.getElementById("tasks").appendChild(link);
        link.click();
        link.remove();
      }, name);
    const actionError = () =>
      page.$eval("#action-error", (e) => {
        const box = e as unknown as { textContent: string; style: { display: string } };
        return `${box.style.display}: ${box.textContent}`;
      });
    await attempt("movies");
    await waitFor(
      async () =>
        await actionError() === 'block: download movies: resource "movies" does not exist',
      { what: "the refusal to show", timeoutMs: 10_000 },
    );
    await page.evaluate(() =>
      (globalThis as unknown as { sessionStorage: { clear(): void } }).sessionStorage.clear()
    );
    await attempt("books");
    await page.waitForSelector("#token-box", { visible: true, timeout: 5000 });
    assert.match(await actionError(), /^none: /, "a token asked for is not an error to show");
    const saved = [];
    for await (const entry of Deno.readDir(downloads)) saved.push(entry.name);
    assert.deepEqual(saved.sort(), ["books.csv", "books.jsonl"]);
    assert.deepEqual(pageErrors, [], "the page threw no error");
  } catch (error) {
    console.error(dev.logs.slice(-40).join("\n"));
    throw error;
  } finally {
    await browser?.close();
    await dev.stop("SIGTERM");
    await site.close();
    await Deno.remove(dir, { recursive: true });
  }
});
