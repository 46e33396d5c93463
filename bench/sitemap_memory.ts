/**
 * @module
 * What reading one big sitemap costs a worker (`deno task bench --profile=sitemap`): a 45 MB,
 * 50,000-URL urlset, plain and gzipped, read by the real CLI in standalone mode with the default
 * config (a sitemap may be 50 MiB whatever `fetcher.maxBodyBytes` says, and is read as it
 * arrives). The sitemap is held back until the worker has started and its idle RSS is sampled; a
 * run ends once the sitemap's 50,000 pages are queued in the frontier. Reports the worker's idle
 * and peak RSS (the kernel's high-water mark) and their difference.
 *
 *   deno run --allow-all bench/sitemap_memory.ts [--gzip] [--urls=50000]
 */
import { DatabaseSync } from "node:sqlite";
import { sampleProcess } from "./_process_stats.ts";

const MiB = 1024 * 1024;
/** Peak RSS above the worker's idle RSS while it reads the sitemap, at most (issue 20). */
export const SITEMAP_RSS_TARGET_BYTES = 200 * 1e6;

/** Options for {@linkcode benchSitemap}. */
export interface SitemapBenchOptions {
  /** URLs in the sitemap. Default 50,000 (about 45 MB). */
  urls?: number;
  /** Serve it gzipped. Default false. */
  gzip?: boolean;
}

/** What {@linkcode benchSitemap} measured. */
export interface SitemapFigures {
  urls: number;
  /** The sitemap's size, uncompressed. */
  bytes: number;
  /** What was sent, gzipped or not. */
  sentBytes: number;
  gzip: boolean;
  idleRssBytes: number;
  peakRssBytes: number;
  /** From the release of the sitemap to its pages all queued. */
  seconds: number;
}

/** A urlset of `count` URLs padded with image entries to about 900 bytes each. */
function bigSitemap(base: string, count: number): Uint8Array<ArrayBuffer> {
  const parts = [
    '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" ' +
    'xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">',
  ];
  const pad = "y".repeat(740);
  for (let i = 0; i < count; i++) {
    parts.push(
      `<url><loc>${base}/p/${i}</loc><lastmod>2024-03-01</lastmod><image:image><image:loc>` +
        `${base}/img/${i}/${pad}.jpg</image:loc></image:image></url>\n`,
    );
  }
  parts.push("</urlset>");
  return new TextEncoder().encode(parts.join(""));
}

/** Requests of the frontier at `dir` so far (0 before it exists). */
function queued(dir: string): number {
  try {
    Deno.statSync(`${dir}/frontier.db`);
    const db = new DatabaseSync(`${dir}/frontier.db`);
    try {
      return (db.prepare("SELECT count(*) AS n FROM frontier_urls").get() as { n: number }).n;
    } finally {
      db.close();
    }
  } catch {
    return 0;
  }
}

async function until(what: string, condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Serves one big sitemap to a standalone worker and measures the worker's memory. */
export async function benchSitemap(options: SitemapBenchOptions = {}): Promise<SitemapFigures> {
  const urls = options.urls ?? 50_000;
  const gzip = options.gzip ?? false;
  let release!: () => void;
  const released = new Promise<void>((resolve) => release = resolve);
  let body: Uint8Array<ArrayBuffer> = new Uint8Array();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const { pathname } = new URL(req.url);
    if (pathname === "/big.xml") {
      await released;
      return new Response(body, { headers: { "content-type": "application/octet-stream" } });
    }
    return new Response("<html><title>p</title></html>", {
      headers: { "content-type": "text/html" },
    });
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  const plain = bigSitemap(base, urls);
  body = gzip
    ? new Uint8Array(
      await new Response(ReadableStream.from([plain]).pipeThrough(new CompressionStream("gzip")))
        .arrayBuffer(),
    )
    : plain;

  const dir = await Deno.makeTempDir({ prefix: "crawler-bench-" });
  // The defaults otherwise: the page cap (fetcher.maxBodyBytes, 10 MiB) does not apply to sitemaps.
  await Deno.writeTextFile(
    `${dir}/config.toml`,
    `logLevel = "warn"
[frontier]
url = "sqlite:${dir}/frontier.db"
[storage]
sqlURL = "sqlite:${dir}/results.db"
[[Tasks]]
Name = "big"
[Tasks.Spec.rules.page]
output = {}
[Tasks.Spec.sitemaps]
urls = ["${base}/big.xml"]
rule = "page"
`,
  );
  const main = new URL("../main.ts", import.meta.url).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", main, "worker", "--cluster=false", `--config=${dir}/config.toml`],
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  const sampler = sampleProcess(child.pid, { intervalMs: 50 });
  try {
    // Started: the root is in the frontier and the worker waits for the sitemap's answer.
    await until("the worker to start", () => queued(dir) >= 1 && sampler.peaks.samples > 0, 60_000);
    await until("a settled idle sample", () => sampler.peaks.samples > 20, 10_000);
    const idle = sampler.peaks.rssBytes;
    const started = performance.now();
    release();
    await until("the sitemap's pages in the frontier", () => queued(dir) > urls, 120_000);
    const seconds = (performance.now() - started) / 1000;
    const { peakRssBytes } = sampler.stop();
    return {
      urls,
      bytes: plain.byteLength,
      sentBytes: body.byteLength,
      gzip,
      idleRssBytes: idle,
      peakRssBytes,
      seconds,
    };
  } finally {
    sampler.stop();
    child.kill("SIGKILL");
    await child.status;
    release();
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

/** One line of figures, with the target. */
export function sitemapLine(f: SitemapFigures): string {
  const grew = f.peakRssBytes - f.idleRssBytes;
  return `sitemap of ${f.urls} URLs, ${(f.bytes / 1e6).toFixed(1)} MB` +
    (f.gzip ? ` (${(f.sentBytes / 1e6).toFixed(2)} MB gzipped)` : "") +
    `: worker idle RSS ${(f.idleRssBytes / MiB).toFixed(0)} MiB, peak ${
      (f.peakRssBytes / MiB).toFixed(0)
    } MiB: +${(grew / 1e6).toFixed(0)} MB (target < ${SITEMAP_RSS_TARGET_BYTES / 1e6} MB${
      grew < SITEMAP_RSS_TARGET_BYTES ? ", met" : ", NOT met"
    }), pages queued in ${f.seconds.toFixed(1)} s`;
}

if (import.meta.main) {
  const urls = Number(Deno.args.find((a) => a.startsWith("--urls="))?.slice(7) ?? 50_000);
  console.log(sitemapLine(await benchSitemap({ urls, gzip: Deno.args.includes("--gzip") })));
}
