/**
 * Sitemaps and feeds as crawl sources, through the real CLI: a site known only by its sitemaps
 * is crawled page by page, once each and nothing off-host; feeds, `lastmodSince`, a gzip bomb and
 * endless index nesting; and a crawl killed with SIGKILL mid-index that resumes without reading
 * an acknowledged sitemap file again.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { STATE_CODES } from "../frontier/frontier.ts";
import { type ConfigInput, runCrawler, spawnCrawler, waitFor, writeConfig } from "./kit/mod.ts";
import { DATED_SINCE, FEED_ITEMS, startSitemapFixture } from "./sitemap_fixture.ts";

/** A standalone config of `tasks` over a frontier and a results file in `dir`. */
function standaloneConfig(dir: string, tasks: ConfigInput["Tasks"]): Promise<string> {
  return writeConfig(`${dir}/config.toml`, {
    logLevel: "warn",
    fetcher: { timeout: 60000 },
    politeness: { perHostConcurrency: 32 },
    frontier: { url: `sqlite:${dir}/frontier.db` },
    storage: { sqlURL: `sqlite:${dir}/results.db` },
    Tasks: tasks,
  });
}

/** A task whose pages are found in sitemaps (`sitemaps`: the fields of its `sitemaps`). */
function sitemapTask(name: string, url: string, sitemaps: Record<string, unknown> = {}) {
  return {
    Name: name,
    URL: `${url}/`,
    Spec: { rules: { page: { output: {} } }, sitemaps: { rule: "page", ...sitemaps } },
  };
}

/** The page paths stored for `task`, sorted. */
function storedPaths(dir: string, task: string): string[] {
  const db = new DatabaseSync(`${dir}/results.db`);
  try {
    const rows = db.prepare(`SELECT url FROM "${task}"`).all() as Array<{ url: string }>;
    return rows.map((r) => new URL(r.url).pathname).sort();
  } finally {
    db.close();
  }
}

/** The paths of the frontier's requests acknowledged (state 2) so far; empty before it exists. */
function acknowledged(dir: string): Set<string> {
  try {
    Deno.statSync(`${dir}/frontier.db`);
  } catch {
    return new Set();
  }
  const db = new DatabaseSync(`${dir}/frontier.db`);
  try {
    // A row keeps its URL less its host's origin (frontier/_url_parts.ts).
    const rows = db.prepare(`SELECT url FROM frontier_urls WHERE state = ${STATE_CODES.done}`)
      .all() as Array<
        { url: string }
      >;
    return new Set(rows.map((r) => r.url.startsWith("/") ? r.url : new URL(r.url).pathname));
  } catch {
    return new Set(); // the tables are not made yet
  } finally {
    db.close();
  }
}

function taskLine(stdout: string, task: string): string {
  const line = stdout.split("\n").find((l) => l.startsWith(`task ${task}: finished`));
  assert.ok(line, `no summary line for ${task} in:\n${stdout}`);
  return line;
}

Deno.test("a site known only by its sitemaps is crawled once per page, nothing off-host", async () => {
  const site = await startSitemapFixture({ pages: 10_000 });
  const dir = await Deno.makeTempDir();
  try {
    const config = await standaloneConfig(dir, [
      sitemapTask("site", site.url),
      sitemapTask("feeds", site.url, { urls: ["/feed.rss", "/feed.atom"] }),
      sitemapTask("recent", site.url, { urls: ["/dated.xml"], lastmodSince: DATED_SINCE }),
      sitemapTask("hostile", site.url, { urls: ["/bomb.xml.gz", "/nest/0.xml", "/self.xml"] }),
    ]);
    const result = await runCrawler(["worker", "--cluster=false", `--config=${config}`]);
    assert.equal(result.code, 0, result.stderr);
    const output = result.stdout + result.stderr;

    // robots.txt names an index of three gzipped sitemaps and a plain one, and a text sitemap.
    const pages = [...site.requests].filter(([path]) => path.startsWith("/p/"));
    assert.equal(pages.length, site.pages, "every page listed was fetched");
    for (const [path, count] of pages) assert.equal(count, 1, `${path} fetched ${count} times`);
    assert.equal(site.otherRequests(), 0, "nothing fetched off-host");
    for (const path of site.sitemapPaths) assert.equal(site.requests.get(path), 1, path);
    assert.equal(storedPaths(dir, "site").length, site.pages);
    // 6 sitemap files; 100 URLs are listed twice, the 5 off-host ones are not counted.
    assert.match(
      taskLine(result.stdout, "site"),
      new RegExp(`failed=0 items=${site.pages} sitemaps=6 sitemap_urls=${site.pages + 100}`),
    );

    // An RSS and an Atom feed of 50 items each queue 100 pages.
    assert.equal(storedPaths(dir, "feeds").length, 2 * FEED_ITEMS);
    assert.match(taskLine(result.stdout, "feeds"), /sitemaps=2 sitemap_urls=100/);

    // lastmodSince keeps exactly the entries on or after it, and those without a lastmod.
    assert.deepEqual(storedPaths(dir, "recent"), [...site.datedKept].sort());

    // A gzip bomb is refused; an endless chain of indexes stops after level 10; an index that
    // lists itself is read once.
    assert.match(output, /sitemap over 52428800 bytes once decompressed/);
    assert.match(output, /sitemap index nested deeper than 10 levels: \S+\/nest\/10\.xml/);
    for (let n = 0; n <= 10; n++) assert.equal(site.requests.get(`/nest/${n}.xml`), 1, `${n}`);
    assert.equal(site.requests.get("/nest/11.xml"), undefined);
    assert.equal(site.requests.get("/self.xml"), 1);
    assert.deepEqual(storedPaths(dir, "hostile"), ["/self/1"]);
    assert.match(taskLine(result.stdout, "hostile"), /failed=2 /);
  } finally {
    await site.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a sitemap crawl killed mid-index resumes without reading an acknowledged sitemap again", async () => {
  // The index's other sitemaps and the text sitemap are held until the crawl has been killed.
  const held = ["/b.xml.gz", "/c.xml.gz", "/plain.xml", "/urls.txt"];
  const site = await startSitemapFixture({ pages: 2_000, hold: held });
  const dir = await Deno.makeTempDir();
  try {
    const config = await standaloneConfig(dir, [sitemapTask("site", site.url)]);
    const args = ["worker", "--cluster=false", `--config=${config}`];
    const child = spawnCrawler(args);
    let acked = await waitFor(() => {
      const acked = acknowledged(dir);
      return acked.has("/index.xml") && acked.has("/a.xml.gz") && acked;
    }, { what: "the index and its first sitemap to be acknowledged", timeoutMs: 30_000 });
    child.kill("SIGKILL");
    assert.equal((await child.status).signal, "SIGKILL");
    await child.stdout.cancel();
    await child.stderr.cancel();
    acked = acknowledged(dir);
    for (const path of held) assert.ok(!acked.has(path), `${path} was held, not acknowledged`);
    const fetchedBeforeKill = new Map(site.requests);
    site.release();

    const resumed = await runCrawler(args);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, /task site: resuming the crawl started/);
    for (const path of site.sitemapPaths) {
      const count = site.requests.get(path);
      if (acked.has(path)) assert.equal(count, 1, `${path} was acknowledged, then fetched again`);
      else assert.ok(count !== undefined && count <= 2, `${path} fetched ${count} times`);
    }
    const pages = [...site.requests].filter(([path]) => path.startsWith("/p/"));
    assert.equal(pages.length, site.pages, "every page listed was fetched");
    for (const [path, count] of pages) {
      if (acked.has(path)) assert.equal(count, 1, `${path} was acknowledged, then fetched again`);
      else assert.ok(count <= 2 && (count === 1 || fetchedBeforeKill.has(path)), path);
    }
    assert.equal(storedPaths(dir, "site").length, site.pages);
    assert.equal(site.otherRequests(), 0);
  } finally {
    await site.close();
    await Deno.remove(dir, { recursive: true });
  }
});
