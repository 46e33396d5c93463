import assert from "node:assert/strict";
import { isGzip, parseSitemap } from "./sitemap_parser.ts";

const encoder = new TextEncoder();

async function gzip(data: string | Uint8Array): Promise<Uint8Array> {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  const stream = ReadableStream.from([bytes as Uint8Array<ArrayBuffer>])
    .pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** `mebibytes` MiB of spaces inside a urlset, gzipped without ever being held whole. */
export async function gzipBomb(mebibytes: number): Promise<Uint8Array> {
  const spaces = new Uint8Array(1 << 20).fill(0x20);
  let sent = -1;
  const source = new ReadableStream<Uint8Array<ArrayBuffer>>({
    pull(controller) {
      if (sent < 0) controller.enqueue(encoder.encode("<?xml version='1.0'?><urlset>"));
      else if (sent < mebibytes) controller.enqueue(spaces);
      else controller.close();
      sent++;
    },
  });
  const stream = source.pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

const URLSET = `<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">
  <url><loc>http://a.test/1</loc><lastmod>2024-03-01</lastmod></url>
  <url>
    <loc> http://a.test/2?x=1&amp;y=2 </loc>
    <image:image><image:loc>http://img.test/not-a-page.png</image:loc></image:image>
  </url>
  <url><loc><![CDATA[http://a.test/3]]></loc><lastmod>2024-03-05T10:00:00+00:00</lastmod></url>
</urlset>`;

Deno.test("a urlset lists its pages with their lastmod, image locs left out", async () => {
  const { format, pages, sitemaps } = await parseSitemap(encoder.encode(URLSET));
  assert.equal(format, "urlset");
  assert.deepEqual(sitemaps, []);
  assert.deepEqual(pages, [
    { url: "http://a.test/1", lastmod: Date.UTC(2024, 2, 1) },
    { url: "http://a.test/2?x=1&y=2" },
    { url: "http://a.test/3", lastmod: Date.UTC(2024, 2, 5, 10) },
  ]);
});

Deno.test("a sitemap index lists sitemaps, not pages", async () => {
  const xml = `<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
    <sitemap><loc>http://a.test/s1.xml.gz</loc><lastmod>2024-01-01</lastmod></sitemap>
    <sitemap><loc>http://a.test/s2.xml</loc></sitemap>
  </sitemapindex>`;
  const { format, pages, sitemaps } = await parseSitemap(encoder.encode(xml));
  assert.equal(format, "sitemapindex");
  assert.deepEqual(pages, []);
  assert.deepEqual(sitemaps.map((s) => s.url), ["http://a.test/s1.xml.gz", "http://a.test/s2.xml"]);
  assert.equal(sitemaps[0].lastmod, Date.UTC(2024, 0, 1));
});

Deno.test("gzip is recognised by its magic bytes and read in chunks", async () => {
  const zipped = await gzip(URLSET);
  assert.ok(isGzip(zipped));
  assert.ok(!isGzip(encoder.encode(URLSET)));
  const { pages, bytes } = await parseSitemap(zipped);
  assert.equal(pages.length, 3);
  assert.equal(bytes, encoder.encode(URLSET).byteLength);
});

Deno.test("a plain-text sitemap is one URL a line; other lines are skipped", async () => {
  const text = "\uFEFFhttp://a.test/1\r\n\nnot a url\nhttps://a.test/2\n  http://a.test/3  ";
  const { format, pages } = await parseSitemap(encoder.encode(text));
  assert.equal(format, "text");
  assert.deepEqual(pages.map((p) => p.url), [
    "http://a.test/1",
    "https://a.test/2",
    "http://a.test/3",
  ]);
});

Deno.test("an RSS 2.0 feed lists its items' links with their dates", async () => {
  const rss = `<?xml version="1.0"?>
  <rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>
    <title>t</title><link>http://a.test/</link>
    <atom:link href="http://a.test/feed" rel="self"/>
    <item><title>one</title><link>http://a.test/p/1</link>
      <pubDate>Tue, 05 Mar 2024 10:00:00 GMT</pubDate></item>
    <item><link>http://a.test/p/2</link><atom:link href="http://a.test/nope"/></item>
  </channel></rss>`;
  const { format, pages } = await parseSitemap(encoder.encode(rss));
  assert.equal(format, "rss");
  assert.deepEqual(pages, [
    { url: "http://a.test/p/1", lastmod: Date.UTC(2024, 2, 5, 10) },
    { url: "http://a.test/p/2" },
  ]);
});

Deno.test("an Atom feed lists its entries' alternate links", async () => {
  const atom = `<?xml version="1.0" encoding="utf-8"?>
  <feed xmlns="http://www.w3.org/2005/Atom">
    <link href="http://a.test/"/>
    <entry><link rel="edit" href="http://a.test/edit/1"/><link href="http://a.test/e/1"/>
      <updated>2024-03-05T10:00:00Z</updated></entry>
    <entry><link rel="alternate" type="text/html" href="http://a.test/e/2"/></entry>
  </feed>`;
  const { format, pages } = await parseSitemap(encoder.encode(atom));
  assert.equal(format, "atom");
  assert.deepEqual(pages, [
    { url: "http://a.test/e/1", lastmod: Date.UTC(2024, 2, 5, 10) },
    { url: "http://a.test/e/2" },
  ]);
});

Deno.test("a page that is no sitemap is refused, naming its root element", async () => {
  await assert.rejects(
    parseSitemap(encoder.encode("<!DOCTYPE html><html><body>Not found</body></html>")),
    /not a sitemap or feed: the root element is <html>/,
  );
});

Deno.test("the filter leaves entries out as they are read, and maxEntries caps the rest", async () => {
  const { pages, skipped } = await parseSitemap(encoder.encode(URLSET), {
    filter: (entry) => entry.url !== "http://a.test/1",
    maxEntries: 1,
  });
  assert.deepEqual(pages.map((p) => p.url), ["http://a.test/2?x=1&y=2"]);
  assert.equal(skipped, 1);
});

Deno.test("a body over maxBytes is refused, naming the limit", async () => {
  await assert.rejects(
    parseSitemap(encoder.encode(URLSET), { maxBytes: 100 }),
    /sitemap over 100 bytes once decompressed/,
  );
});

/** `bytes` as a stream of pieces of `size` bytes, counting how many were asked for. */
function pieces(bytes: Uint8Array, size: number) {
  const stats = { pulled: 0, stopped: false };
  async function* source(): AsyncGenerator<Uint8Array> {
    try {
      for (let at = 0; at < bytes.byteLength; at += size) {
        stats.pulled++;
        yield bytes.subarray(at, at + size);
      }
    } finally {
      stats.stopped = true;
    }
  }
  return { source: source(), stats };
}

Deno.test("a sitemap arriving in pieces reads as the whole file, gzip told across a split", async () => {
  const whole = await parseSitemap(encoder.encode(URLSET));
  for (const bytes of [encoder.encode(URLSET), await gzip(URLSET)]) {
    // One byte a piece: gzip's two magic bytes come in two pieces.
    const { source, stats } = pieces(bytes, 1);
    assert.deepEqual(await parseSitemap(source), whole);
    assert.equal(stats.pulled, bytes.byteLength);
  }
});

Deno.test("a sitemap refused part way stops its download; the download's own error passes through", async () => {
  const html = encoder.encode(`<html><body>${"<p>x</p>".repeat(100_000)}</body></html>`);
  const { source, stats } = pieces(html, 1024);
  await assert.rejects(parseSitemap(source), /not a sitemap or feed: the root element is <html>/);
  assert.ok(stats.pulled < 10 && stats.stopped, `${stats.pulled} pieces read, then stopped`);

  const bomb = pieces(await gzipBomb(64), 16 * 1024);
  await assert.rejects(
    parseSitemap(bomb.source, { maxBytes: 1 << 20 }),
    /sitemap over 1048576 bytes once decompressed/,
  );
  assert.ok(bomb.stats.stopped, "the download was stopped");

  const failure = new Error("fetching http://a.test/s.xml.gz timed out after 3000 ms");
  async function* broken(): AsyncGenerator<Uint8Array> {
    yield (await gzip(URLSET)).subarray(0, 20);
    throw failure;
  }
  await assert.rejects(parseSitemap(broken()), (e) => e === failure);
});
