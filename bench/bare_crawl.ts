/**
 * @module
 * The bench's baseline: the least a crawler can do per page. `concurrency` loops each `fetch` a
 * URL, read its text, find links with one regular expression, resolve them and keep the new ones
 * (a `Set` of strings): no rules, no rate limits, no retries, no storage. No crawler can beat it
 * against the same server, so the engine's pages/s is reported as a fraction of it.
 *
 *   deno run --allow-net bench/bare_crawl.ts URL [--concurrency=16]
 *
 * Prints {@linkcode CrawlFigures} as JSON.
 */
import { cpuSeconds, type CrawlFigures, sampleRss } from "./_process_stats.ts";

const root = new URL(Deno.args[0]).href;
const concurrency = Number(
  Deno.args.find((a) => a.startsWith("--concurrency="))?.slice(14) ?? 16,
);
const LINK = /<a\s[^>]*?href="([^"]+)"/g;
const host = new URL(root).host;

/**
 * Root-relative hrefs seen as written, so each distinct one is resolved once: such a link means
 * the same URL on every page, so its text is as good a key as its URL, and `new URL` for every
 * link (1.5 µs each, 1.5 million of them) would make the baseline slower than it has to be.
 * Relative and absolute hrefs are resolved every time.
 */
const seenHrefs = new Set<string>();
const seen = new Set<string>([root]);
const queue: string[] = [root];
let next = 0;
let active = 0;
let pages = 0;
let failed = 0;
/** Loops waiting for links (or for the end) while others fetch. */
let waiting: Array<() => void> = [];

function wakeAll(): void {
  const woken = waiting;
  waiting = [];
  for (const resolve of woken) resolve();
}

async function loop(): Promise<void> {
  for (;;) {
    if (next >= queue.length) {
      if (active === 0) {
        wakeAll();
        return;
      }
      await new Promise<void>((resolve) => waiting.push(resolve));
      continue;
    }
    const url = queue[next++];
    active++;
    try {
      const response = await fetch(url);
      const body = await response.text();
      pages++;
      for (const match of body.matchAll(LINK)) {
        const href = match[1];
        if (href.charCodeAt(0) === 0x2f && href.charCodeAt(1) !== 0x2f) {
          if (seenHrefs.has(href)) continue;
          seenHrefs.add(href);
        }
        const link = new URL(href, url);
        link.hash = "";
        if (link.host !== host || seen.has(link.href)) continue;
        seen.add(link.href);
        queue.push(link.href);
      }
    } catch {
      failed++;
    } finally {
      active--;
      // Other loops may be waiting for the links this page added (or for the end).
      wakeAll();
    }
  }
}

const rss = sampleRss();
const started = performance.now();
await Promise.all(Array.from({ length: concurrency }, loop));
const figures: CrawlFigures = {
  pages,
  failed,
  items: 0,
  seconds: (performance.now() - started) / 1000,
  peakRssBytes: rss.stop(),
  cpuSeconds: cpuSeconds(),
};
console.log(JSON.stringify(figures));
