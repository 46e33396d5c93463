/**
 * Where a task's sitemaps come from when the spec names none, and how big one may be, through the
 * real CLI: a host without robots.txt and one whose robots.txt names no sitemap are both read
 * from `<origin>/sitemap.xml`; a task whose sitemaps are absolute URLs runs without `URL`, and
 * its 12 MiB sitemap is read although a page may be 10 MiB at most.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { runCrawler } from "./kit/cli.ts";
import { writeConfig } from "./kit/config.ts";

const encoder = new TextEncoder();
const PAGES = 20;
/** Filler of the big sitemap: 12 MiB of elements that are no entries. */
const FILLER_MIB = 12;

/** A host's robots.txt (or none: 404), `/sitemap.xml` and `/big.xml`, counting what is asked. */
function site(robots: string | undefined) {
  const requests = new Map<string, number>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const { pathname } = new URL(req.url);
    requests.set(pathname, (requests.get(pathname) ?? 0) + 1);
    const base = new URL(req.url).origin;
    const pages = Array.from({ length: PAGES }, (_, i) => `<url><loc>${base}/p/${i}</loc></url>`);
    if (pathname === "/robots.txt" && robots !== undefined) return new Response(robots);
    if (pathname === "/sitemap.xml") {
      return new Response(`<urlset>${pages.join("")}</urlset>`, {
        headers: { "content-type": "application/xml" },
      });
    }
    if (pathname === "/big.xml") return new Response(bigSitemap(pages));
    if (pathname.startsWith("/p/")) return new Response(`<title>${pathname}</title>`);
    return new Response("not found", { status: 404 });
  });
  return { url: `http://127.0.0.1:${server.addr.port}`, requests, server };
}

/** A urlset of `pages` behind 12 MiB of filler, sent a chunk at a time with no length. */
function bigSitemap(pages: string[]): ReadableStream<Uint8Array> {
  const filler = encoder.encode(`<pad>${"x".repeat(1000)}</pad>`.repeat(1024));
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent === 0) controller.enqueue(encoder.encode("<urlset>"));
      if (sent < FILLER_MIB) controller.enqueue(filler);
      else {
        controller.enqueue(encoder.encode(`${pages.join("")}</urlset>`));
        controller.close();
      }
      sent++;
    },
  });
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

Deno.test("sitemaps come from robots.txt, else /sitemap.xml; absolute ones need no URL and may be 50 MiB", async () => {
  const missing = site(undefined);
  const silent = site("User-agent: *\nDisallow: /private/\n");
  const big = site(undefined);
  const dir = await Deno.makeTempDir();
  try {
    const page = { page: { output: {} } };
    const config = await writeConfig(`${dir}/config.toml`, {
      logLevel: "warn",
      frontier: { url: `sqlite:${dir}/frontier.db` },
      storage: { sqlURL: `sqlite:${dir}/results.db` },
      Tasks: [
        {
          Name: "missing",
          URL: `${missing.url}/`,
          Spec: { rules: page, sitemaps: { rule: "page" } },
        },
        {
          Name: "silent",
          URL: `${silent.url}/`,
          Spec: { rules: page, sitemaps: { rule: "page" } },
        },
        {
          Name: "big",
          Spec: { rules: page, sitemaps: { rule: "page", urls: [`${big.url}/big.xml`] } },
        },
      ],
    });
    const result = await runCrawler(["worker", "--cluster=false", `--config=${config}`]);
    assert.equal(result.code, 0, result.stderr);

    const all = Array.from({ length: PAGES }, (_, i) => `/p/${i}`).sort();
    for (const [task, host] of [["missing", missing], ["silent", silent]] as const) {
      assert.deepEqual(storedPaths(dir, task), all, `${task}: the pages /sitemap.xml lists`);
      assert.equal(host.requests.get("/sitemap.xml"), 1, `${task}: /sitemap.xml read once`);
      assert.match(
        result.stdout,
        new RegExp(
          `task ${task}: finished, fetched=\\d+ failed=0 items=${PAGES} sitemaps=1 ` +
            `sitemap_urls=${PAGES}`,
        ),
      );
    }
    assert.deepEqual(storedPaths(dir, "big"), all, "the 12 MiB sitemap's pages");
    assert.equal(big.requests.get("/big.xml"), 1);
    assert.equal(big.requests.get("/sitemap.xml"), undefined, "named sitemaps only");
    assert.match(result.stdout, /task big: finished, \S+ failed=0 items=20 sitemaps=1/);
  } finally {
    for (const { server } of [missing, silent, big]) await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
