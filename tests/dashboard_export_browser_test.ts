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
import { CrawlerProcess, freePort, waitUntil } from "./cluster_harness.ts";
import { startDoubanFixture } from "./douban_fixture.ts";
import { parseCsvFileWithPython } from "./python_csv.ts";

/** Where Debian puts Chromium; `CHROMIUM_PATH` overrides it. */
const CHROMIUM = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";

class DevProcess extends CrawlerProcess {
  readonly id = "dev";
  constructor(port: number, cwd: string, token: string) {
    super(port, 0, ["dev", `--http=127.0.0.1:${port}`], { cwd, token });
  }
}

/** Waits until `path` exists and Chromium has finished writing it. */
async function downloaded(path: string): Promise<string> {
  await waitUntil(`${path} to be downloaded`, 20_000, async () => {
    try {
      await Deno.stat(path);
      await Deno.stat(`${path}.crdownload`).then(() => {
        throw new Error("still downloading");
      }, () => {});
      return true;
    } catch {
      return false;
    }
  });
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
  const dev = new DevProcess(freePort(), dir, token);
  let browser: Browser | undefined;
  try {
    await waitUntil("a leader", 20_000, async () => {
      return (await dev.request("/crawler/leader")).body.isLeader === true;
    });
    const spec = { rule: "douban_book_list", url: `${site.url}/`, waitTime: 0, limits: [] };
    const added = await dev.request("/crawler/resource", {
      method: "POST",
      json: { name: "books", spec },
    });
    assert.equal(added.status, 200, JSON.stringify(added.body));
    await waitUntil("the crawl to finish", 20_000, async () => {
      const { body } = await dev.request("/worker/tasks");
      return (body.tasks as Array<{ state: string }>)[0]?.state === "finished";
    });
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

    // A refusal is shown, not saved as the file; without a token the page asks for one.
    // (Run in the page: this file is type-checked without the DOM library, hence the casts.)
    const attempt = (name: string) =>
      page.evaluate((task) => {
        const run = (globalThis as unknown as {
          download(name: string, format: string): Promise<void>;
        }).download;
        return run(task, "csv").then(
          () => "saved",
          (error: Error) => `${error.constructor.name}: ${error.message}`,
        );
      }, name);
    assert.equal(await attempt("movies"), 'Error: resource "movies" does not exist');
    await page.evaluate(() =>
      (globalThis as unknown as { sessionStorage: { clear(): void } }).sessionStorage.clear()
    );
    assert.equal(await attempt("books"), "AuthNeeded: token needed");
    await page.waitForSelector("#token-box", { visible: true, timeout: 5000 });
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
