/**
 * @module
 * A site on 127.0.0.1 that lists its pages in sitemaps only (no page links to another):
 * robots.txt names a sitemap index and a text sitemap; the index lists three gzipped sitemaps
 * (served as `application/octet-stream`, with `Content-Encoding: gzip`, and as
 * `application/x-gzip`) and a plain one. 100 page URLs are listed twice and 5 are on another
 * host (a second server, which counts what it is asked). Beside them: an RSS and an Atom feed of
 * 50 items each, a dated urlset for `lastmodSince`, a gzip bomb, an endless chain of sitemap
 * indexes and an index that lists itself. It records every path requested, and can hold the
 * answers to some paths until told to let them go.
 */

/** Options for {@linkcode startSitemapFixture}. */
export interface SitemapFixtureOptions {
  /** Distinct page URLs the robots.txt sitemaps list on this host. Default 10,000. */
  pages?: number;
  /** Paths whose answer waits until `release()` (or `close()`). */
  hold?: readonly string[];
}

export interface SitemapFixture {
  /** Base URL, e.g. http://127.0.0.1:41234. */
  url: string;
  /** The other host's base URL. */
  otherUrl: string;
  /** Distinct page URLs on this host the robots.txt sitemaps list. */
  pages: number;
  /** The sitemap files robots.txt leads to. */
  sitemapPaths: readonly string[];
  /** Times each path was requested here. */
  requests: Map<string, number>;
  /** Requests the other host got. */
  otherRequests: () => number;
  /** Page paths `/dated/<i>` whose lastmod is on or after `DATED_SINCE`. */
  datedKept: readonly string[];
  /** Lets held answers go. */
  release(): void;
  close(): Promise<void>;
}

/** The `lastmodSince` the dated urlset is meant to be read with. */
export const DATED_SINCE = "2024-03-01";
/** Items in each feed. */
export const FEED_ITEMS = 50;
/** Size of the gzip bomb once decompressed, MiB. */
export const BOMB_MIB = 1024;

const encoder = new TextEncoder();

async function gzip(text: string): Promise<Uint8Array<ArrayBuffer>> {
  const stream = ReadableStream.from([encoder.encode(text)]).pipeThrough(
    new CompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** An XML urlset of `pages` (paths or absolute URLs), every one with a lastmod. */
function urlset(base: string, pages: readonly string[]): string {
  const urls = pages.map((page, i) =>
    `<url><loc>${page.startsWith("http") ? page : base + page}</loc><lastmod>2024-0${
      1 + (i % 9)
    }-15</lastmod></url>`
  ).join("\n");
  return `<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
${urls}
</urlset>`;
}

function sitemapIndex(urls: readonly string[]): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
${urls.map((url) => `<sitemap><loc>${url}</loc></sitemap>`).join("\n")}
</sitemapindex>`;
}

/** A gzipped urlset opening followed by `mebibytes` MiB of spaces, never held whole. */
async function gzipBomb(mebibytes: number): Promise<Uint8Array<ArrayBuffer>> {
  const spaces = new Uint8Array(1 << 20).fill(0x20);
  let sent = -1;
  const source = new ReadableStream<Uint8Array<ArrayBuffer>>({
    pull(controller) {
      if (sent < 0) controller.enqueue(encoder.encode("<urlset>"));
      else if (sent < mebibytes) controller.enqueue(spaces);
      else controller.close();
      sent++;
    },
  });
  const stream = source.pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Starts the site and the other host. */
export async function startSitemapFixture(
  options: SitemapFixtureOptions = {},
): Promise<SitemapFixture> {
  const pages = options.pages ?? 10_000;
  const held = new Set(options.hold ?? []);
  let release!: () => void;
  const released = new Promise<void>((resolve) => release = resolve);

  let otherCount = 0;
  const other = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () => {
    otherCount++;
    return new Response("<html><body>elsewhere</body></html>", {
      headers: { "content-type": "text/html" },
    });
  });
  const otherUrl = `http://127.0.0.1:${other.addr.port}`;

  // Five equal parts: a, b, c (gzipped), plain.xml, urls.txt.
  const part = Math.ceil(pages / 5);
  const path = (i: number) => `/p/${i}`;
  const slice = (k: number) =>
    Array.from(
      { length: Math.max(0, Math.min(pages, (k + 1) * part) - k * part) },
      (_, i) => path(k * part + i),
    );
  const [a, b, c, plain, text] = [0, 1, 2, 3, 4].map(slice);
  // 100 listed twice (50 of a again in plain.xml, 50 of c again in urls.txt), 5 elsewhere.
  const offHost = Array.from({ length: 5 }, (_, i) => `${otherUrl}/x/${i}`);

  const requests = new Map<string, number>();
  const files = new Map<string, { body: Uint8Array | string; headers: Record<string, string> }>();
  const xml = { "content-type": "application/xml" };
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request): Promise<Response> => {
      const { pathname } = new URL(request.url);
      requests.set(pathname, (requests.get(pathname) ?? 0) + 1);
      if (held.has(pathname)) await released;
      const file = files.get(pathname);
      if (file) return new Response(file.body as BodyInit, { headers: file.headers });
      const nest = /^\/nest\/(\d+)\.xml$/.exec(pathname);
      if (nest) {
        const n = Number(nest[1]);
        return new Response(sitemapIndex([`${url}/nest/${n + 1}.xml`]), { headers: xml });
      }
      if (/^\/(p|rss|atom|dated|self)\//.test(pathname)) {
        return new Response(`<html><head><title>${pathname}</title></head><body></body></html>`, {
          headers: { "content-type": "text/html; charset=utf-8" },
        });
      }
      return new Response("not found", { status: 404 });
    },
  );
  const url: string = `http://127.0.0.1:${server.addr.port}`;

  const gz = async (pages: string[]) => await gzip(urlset(url, pages));
  files.set("/robots.txt", {
    body: `User-agent: *\nAllow: /\n\nSitemap: ${url}/index.xml\nSitemap: ${url}/urls.txt\n`,
    headers: { "content-type": "text/plain" },
  });
  files.set("/index.xml", {
    body: sitemapIndex(
      ["/a.xml.gz", "/b.xml.gz", "/c.xml.gz", "/plain.xml"].map((p) => url + p),
    ),
    headers: xml,
  });
  files.set("/a.xml.gz", {
    body: await gz(a),
    headers: { "content-type": "application/octet-stream" },
  });
  // fetch() undoes a Content-Encoding itself: the rule then gets the plain XML.
  files.set("/b.xml.gz", {
    body: await gz([...b.slice(0, 10), ...offHost, ...b.slice(10)]),
    headers: { "content-type": "application/xml", "content-encoding": "gzip" },
  });
  files.set("/c.xml.gz", { body: await gz(c), headers: { "content-type": "application/x-gzip" } });
  files.set("/plain.xml", { body: urlset(url, [...plain, ...a.slice(0, 50)]), headers: xml });
  files.set("/urls.txt", {
    body: [...text, ...c.slice(0, 50)].map((p) => url + p).join("\n") + "\n",
    headers: { "content-type": "text/plain; charset=utf-8" },
  });

  const items = Array.from({ length: FEED_ITEMS }, (_, i) => i);
  files.set("/feed.rss", {
    body: `<?xml version="1.0"?><rss version="2.0"><channel><title>f</title><link>${url}/</link>${
      items.map((i) =>
        `<item><title>${i}</title><link>${url}/rss/${i}</link><pubDate>Tue, 05 Mar 2024 10:00:00 GMT</pubDate></item>`
      ).join("")
    }</channel></rss>`,
    headers: { "content-type": "application/rss+xml" },
  });
  files.set("/feed.atom", {
    body:
      `<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>f</title>${
        items.map((i) =>
          `<entry><title>${i}</title><link rel="alternate" href="${url}/atom/${i}"/><updated>2024-03-05T10:00:00Z</updated></entry>`
        ).join("")
      }</feed>`,
    headers: { "content-type": "application/atom+xml" },
  });

  // 20 dated entries: two a month from January to October 2024, some days either side of the 1st.
  const dated: Array<[string, string]> = [];
  const datedKept: string[] = [];
  for (let i = 0; i < 20; i++) {
    const month = 1 + Math.floor(i / 2);
    const lastmod = i % 2 === 0
      ? `2024-${String(month).padStart(2, "0")}-01`
      : `2024-${String(month).padStart(2, "0")}-28T23:59:59Z`;
    dated.push([`/dated/${i}`, lastmod]);
    if (Date.parse(lastmod) >= Date.parse(DATED_SINCE)) datedKept.push(`/dated/${i}`);
  }
  files.set("/dated.xml", {
    body: `<urlset>${
      dated.map(([p, lastmod]) => `<url><loc>${url}${p}</loc><lastmod>${lastmod}</lastmod></url>`)
        .join("")
    }<url><loc>${url}/dated/undated</loc></url></urlset>`,
    headers: xml,
  });
  datedKept.push("/dated/undated");

  files.set("/bomb.xml.gz", {
    body: await gzipBomb(BOMB_MIB),
    headers: { "content-type": "application/octet-stream" },
  });
  files.set("/self.xml", {
    body: sitemapIndex([`${url}/self.xml`, `${url}/self-pages.xml`]),
    headers: xml,
  });
  files.set("/self-pages.xml", { body: urlset(url, ["/self/1"]), headers: xml });

  return {
    url,
    otherUrl,
    pages,
    sitemapPaths: ["/index.xml", "/a.xml.gz", "/b.xml.gz", "/c.xml.gz", "/plain.xml", "/urls.txt"],
    requests,
    otherRequests: () => otherCount,
    datedKept,
    release,
    async close() {
      release();
      await Promise.all([server.shutdown(), other.shutdown()]);
    },
  };
}
