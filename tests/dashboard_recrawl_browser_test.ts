/**
 * @module
 * A recrawl task on the dashboard (issue 21, item 5; docs/frontier.md, "Recrawl"), in a real
 * headless Chromium (Debian's `chromium`, driven by `puppeteer-core`) against a real cluster: etcd,
 * a `crawler master` and a `crawler worker`, over the recrawl fixture (every page sends `ETag` and
 * `Last-Modified` and answers a matching conditional GET with 304), the task added through the
 * page's form with `"recrawl": {"interval": "2s", "adaptive": false}`. Through the page, as an
 * operator reads it: the task card's recrawl line shows every page scheduled after the first pass;
 * between passes the card is `waiting`, its next visit due within the interval, due 0 / scheduled
 * all; after the second pass its revisits are counted, all of them 304s (the site sent at least as
 * many), nothing unchanged or changed and no item written again; they keep rising pass after
 * pass; and two articles edited on the site are counted changed, their items written.
 */
import assert from "node:assert/strict";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { chromiumArgs, chromiumPath } from "../spider/browser/chromium_binary.ts";
import { requireChromium } from "./browser_harness.ts";
import { Cluster, waitFor } from "./kit/mod.ts";
import { startRecrawlFixture } from "./recrawl_fixture.ts";

// Globals of the page, for the functions that run inside it (this file is not type-checked
// with the DOM library: it would clash with Deno's own types).
interface PageElement {
  textContent: string | null;
  className: string;
  value?: string;
  getAttribute(name: string): string | null;
  querySelector(selector: string): PageElement | null;
}
declare const document: { querySelector(selector: string): PageElement | null };

const INTERVAL_MS = 2000;
/** 2 lists of 10 articles: 23 pages (home, lists, articles), a pass well under a second. */
const SITE = { lists: 2, perList: 10 };
/** Items per article (`li.item`), as the fixture serves them. */
const ITEMS_PER_ARTICLE = 3;
const TASK = "fresh";

/** A task card as the page shows it: its state and the texts of its fields. */
interface Card {
  /** The card's `data-state`. */
  state: string | null;
  /** The state pill's text and class. */
  pill: string | null;
  pillClass: string | null;
  /** The recrawl line (`data-field="recrawl"`), and its next-due and revisits parts. */
  recrawl: string | null;
  nextDue: string | null;
  revisits: string | null;
  fetched: string | null;
  items: string | null;
}

/** The card of `task` (undefined while the page shows none), read at one moment. */
async function readCard(page: Page, task: string): Promise<Card | undefined> {
  return await page.evaluate((name: string) => {
    const card = document.querySelector(`.task[data-task="${name}"]`);
    if (!card) return undefined;
    const text = (field: string) =>
      card.querySelector(`[data-field="${field}"]`)?.textContent ?? null;
    const pill = card.querySelector('[data-field="state"]');
    return {
      state: card.getAttribute("data-state"),
      pill: pill?.textContent ?? null,
      pillClass: pill?.className ?? null,
      recrawl: text("recrawl"),
      nextDue: text("next-due"),
      revisits: text("revisits"),
      fetched: text("fetched"),
      items: text("items"),
    };
  }, task);
}

/** What the recrawl line says, in numbers. */
interface RecrawlFigures {
  /** `in 2 s`, `now`, ... or undefined for "nothing scheduled". */
  nextDue: string | undefined;
  due: number;
  scheduled: number;
  revisits: number;
  notModified: number;
  unchanged: number;
  changed: number;
}

const RECRAWL_LINE =
  /^(?:next visit due (.+)|nothing scheduled) · due ([\d,]+) \/ scheduled ([\d,]+) · revisits ([\d,]+) \(304: ([\d,]+), unchanged ([\d,]+), changed ([\d,]+)\)$/;

const count = (text: string) => Number(text.replaceAll(",", ""));

/** The card's recrawl line parsed; a line that does not read as documented fails the test. */
function recrawlOf(card: Card | undefined): RecrawlFigures | undefined {
  if (!card?.recrawl) return undefined;
  const match = RECRAWL_LINE.exec(card.recrawl);
  assert.ok(match, `the recrawl line reads as documented: ${JSON.stringify(card.recrawl)}`);
  const [, nextDue, due, scheduled, revisits, notModified, unchanged, changed] = match;
  assert.equal(card.nextDue ?? undefined, nextDue && `next visit due ${nextDue}`);
  assert.ok(card.revisits?.startsWith(`revisits ${revisits} `), JSON.stringify(card));
  return {
    nextDue,
    due: count(due),
    scheduled: count(scheduled),
    revisits: count(revisits),
    notModified: count(notModified),
    unchanged: count(unchanged),
    changed: count(changed),
  };
}

/**
 * Waits until the card of `task` shows a recrawl line for which `holds` is true: the card and its
 * figures. A timeout says what the card read last.
 */
async function cardUntil(
  page: Page,
  task: string,
  holds: (card: Card, recrawl: RecrawlFigures) => unknown,
  options: { what: string; timeoutMs: number },
): Promise<{ card: Card; recrawl: RecrawlFigures }> {
  let last: Card | undefined;
  try {
    return await waitFor(async () => {
      const card = last = await readCard(page, task);
      const recrawl = recrawlOf(card);
      return card && recrawl && holds(card, recrawl) ? { card, recrawl } : false;
    }, options);
  } catch (error) {
    if (error instanceof assert.AssertionError) throw error;
    throw new Error(`${(error as Error).message}; the card read last: ${JSON.stringify(last)}`);
  }
}

Deno.test("the dashboard shows a recrawl task waiting between passes, its schedule and its revisits, in a real browser", async (t) => {
  await requireChromium();
  const site = startRecrawlFixture(SITE);
  const dir = await Deno.makeTempDir({ prefix: "crawler_dashboard_recrawl_" });
  let browser: Browser | undefined;
  try {
    await using cluster = await Cluster.start({ masters: 1, workers: 1 });
    const master = [...cluster.masters.values()][0];
    const worker = cluster.workers.get(1)!;
    /** A step of the scene; the test stops at the first failed step. */
    const step = async (name: string, fn: () => Promise<void>) => {
      if (!await cluster.step(t, name, fn)) throw new Error(`step failed: ${name}`);
    };
    try {
      browser = await puppeteer.launch({
        executablePath: chromiumPath(),
        userDataDir: `${dir}/chromium-profile`,
        args: ["--headless", ...chromiumArgs()],
        defaultViewport: { width: 1280, height: 1000 },
      });
      const page = await browser.newPage();
      const pageErrors: string[] = [];
      page.on("pageerror", (error) => pageErrors.push(String(error)));
      // The page shows errors inline; a dialog would block it (and this test) until dismissed.
      page.on("dialog", async (dialog) => {
        pageErrors.push(`dialog: ${dialog.message()}`);
        await dialog.dismiss();
      });
      await page.goto(master.url("/"), { waitUntil: "load" });
      /** Every page of the site: the home page, the lists and the articles. */
      const pages = [
        "/",
        ...Array.from({ length: SITE.lists }, (_, l) => `/l/${l}`),
        ...site.articles,
      ];
      assert.equal(pages.length, site.pages);
      /** The items the first pass stores: three per article. */
      const items = site.articles.length * ITEMS_PER_ARTICLE;
      /** The site's 304 answers (robots.txt is not recorded). */
      const notModifiedAtSite = () => site.hits.filter((h) => h.status === 304).length;

      await step("a recrawl task added through the page's form", async () => {
        await page.waitForFunction(
          (id: string) =>
            document.querySelector("#conn")?.textContent === "live" &&
            document.querySelector('#workers tr[data-worker="' + id + '"] .pill')?.textContent ===
              "ok",
          { timeout: 20_000 },
          worker.id,
        );
        const spec = {
          url: `${site.url}/`,
          maxDepth: 5,
          recrawl: { interval: `${INTERVAL_MS / 1000}s`, adaptive: false },
          rules: {
            home: { links: [{ selector: "a", rule: "list" }] },
            list: { links: [{ selector: "a", rule: "article" }] },
            article: { output: { each: "li.item", fields: { text: {} } } },
          },
        };
        await page.$eval("#add-body", (element, value) => {
          (element as unknown as PageElement).value = value as string;
        }, JSON.stringify({ name: TASK, spec }));
        await page.click("#add-submit");
        await page.waitForFunction(
          (name: string) =>
            document.querySelector("#add-ok")?.textContent?.startsWith("Added " + name) ||
            document.querySelector("#add-error")?.textContent,
          { timeout: 10_000 },
          TASK,
        );
        assert.equal(await page.$eval("#add-error", (e) => e.textContent), "");
      });

      await step("after the first pass the card shows every page scheduled", async () => {
        const { card } = await cardUntil(page, TASK, (_, r) => r.scheduled === site.pages, {
          what: `the card to show ${site.pages} pages scheduled`,
          timeoutMs: 20_000,
        });
        // Every page was fetched, and the articles' items stored.
        for (const path of pages) {
          assert.ok(site.hitsOf(path).some((h) => h.status === 200), `${path} fetched`);
        }
        assert.equal(count(card.items!), items, JSON.stringify(card));
        assert.ok(count(card.fetched!) >= site.pages, JSON.stringify(card));
      });

      await step(
        "between passes the card is waiting, its next visit due within the interval, due 0 / scheduled all",
        async () => {
          const { card, recrawl } = await cardUntil(
            page,
            TASK,
            (c, r) => c.state === "waiting" && r.nextDue !== undefined,
            { what: "the card to show the task waiting for its next visit", timeoutMs: 15_000 },
          );
          const shown = JSON.stringify(card);
          assert.equal(card.pill, "waiting", shown);
          assert.match(card.pillClass ?? "", /\bpill\b.*\bwaiting\b/, shown);
          // At most one interval ahead: each page is due an interval after its last visit. With
          // a 2-s interval the page often reads "now": the due time it draws is the worker's
          // (refreshed with its counts every second) as the master last polled it (every 2 s),
          // set against the time of the master's answer, and under 500 ms reads "now". Passes
          // and polls both repeat about every 2 s, so one run may see nothing but "now".
          assert.match(recrawl.nextDue!, /^(now|in [12] s)$/, shown);
          assert.equal(recrawl.due, 0, shown);
          assert.equal(recrawl.scheduled, site.pages, shown);
        },
      );

      let afterSecondPass = 0;
      await step(
        "after the second pass the card counts its revisits, every one a 304, nothing rewritten",
        async () => {
          const { card, recrawl } = await cardUntil(
            page,
            TASK,
            (_, r) => r.revisits >= site.pages,
            { what: `the card to count ${site.pages} revisits`, timeoutMs: 15_000 },
          );
          const shown = JSON.stringify(card);
          assert.equal(recrawl.notModified, recrawl.revisits, shown);
          assert.equal(recrawl.unchanged, 0, shown);
          assert.equal(recrawl.changed, 0, shown);
          // The page counts no more 304s than the site sent, and every page was sent one.
          assert.ok(recrawl.notModified <= notModifiedAtSite(), `${notModifiedAtSite()} at site`);
          for (const path of pages) {
            assert.ok(site.hitsOf(path).some((h) => h.status === 304), `${path} revisited`);
          }
          // A 304 writes nothing: the items stay those of the first pass.
          assert.equal(count(card.items!), items, shown);
          // A revisit is a page fetched too.
          assert.ok(count(card.fetched!) >= site.pages + recrawl.revisits, shown);
          afterSecondPass = recrawl.revisits;
        },
      );

      await step("the revisits and 304s keep rising, pass after pass", async () => {
        const { card, recrawl } = await cardUntil(
          page,
          TASK,
          (_, r) => r.revisits >= afterSecondPass + site.pages,
          { what: "the card to count a third pass's revisits", timeoutMs: 15_000 },
        );
        const shown = JSON.stringify(card);
        assert.equal(recrawl.notModified, recrawl.revisits, shown);
        assert.equal(recrawl.unchanged + recrawl.changed, 0, shown);
        assert.ok(recrawl.notModified <= notModifiedAtSite(), `${notModifiedAtSite()} at site`);
        assert.equal(count(card.items!), items, shown);
      });

      await step(
        "two articles edited: the card counts them changed, their items written",
        async () => {
          const edited = site.articles.slice(0, 2);
          const since = Date.now();
          site.change(edited);
          const { card, recrawl } = await cardUntil(page, TASK, (_, r) => r.changed >= 2, {
            what: "the card to count 2 changed pages",
            timeoutMs: 15_000,
          });
          const shown = JSON.stringify(card);
          assert.equal(recrawl.changed, 2, shown);
          assert.equal(recrawl.unchanged, 0, shown);
          assert.equal(recrawl.notModified, recrawl.revisits - 2, shown);
          for (const path of edited) {
            assert.ok(site.hitsOf(path).some((h) => h.at >= since && h.status === 200), path);
          }
          // Each edited article's output is two items now (its first rewritten, its last gone).
          assert.equal(count(card.items!), items + 2 * edited.length, shown);
        },
      );

      assert.deepEqual(pageErrors, [], "the page threw no error");
    } catch (error) {
      cluster.dumpLogs();
      throw error;
    }
  } finally {
    await browser?.close();
    await site.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
