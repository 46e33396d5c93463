/**
 * @module
 * What reading one big sitemap costs a worker: a 45 MB, 50,000-URL urlset (`--gzip` to serve it
 * gzipped) read by the real CLI in standalone mode, with `fetcher.maxBodyBytes` raised to the
 * protocol's 50 MiB. The sitemap is held back until the worker has started and its idle RSS is
 * sampled; the run ends once the sitemap's 50,000 pages are queued in the frontier. Prints the
 * worker's idle and peak RSS (the kernel's high-water mark) and their difference.
 *
 *   deno run --allow-all bench/sitemap_memory.ts [--gzip] [--urls=50000]
 */
import { DatabaseSync } from "node:sqlite";
import { sampleProcess } from "./_process_stats.ts";

const MiB = 1024 * 1024;
const args = new Set(Deno.args);
const urls = Number(Deno.args.find((a) => a.startsWith("--urls="))?.slice(7) ?? 50_000);
const gzipped = args.has("--gzip");

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
body = gzipped
  ? new Uint8Array(
    await new Response(ReadableStream.from([plain]).pipeThrough(new CompressionStream("gzip")))
      .arrayBuffer(),
  )
  : plain;
console.log(
  `sitemap: ${urls} URLs, ${(plain.byteLength / 1e6).toFixed(1)} MB` +
    (gzipped ? ` (${(body.byteLength / 1e6).toFixed(2)} MB gzipped)` : ""),
);

const dir = await Deno.makeTempDir({ prefix: "crawler-bench-" });
await Deno.writeTextFile(
  `${dir}/config.toml`,
  `logLevel = "warn"
[fetcher]
maxBodyBytes = ${50 * MiB}
[frontier]
url = "sqlite:${dir}/frontier.db"
[storage]
sqlURL = "sqlite:${dir}/results.db"
[[Tasks]]
Name = "big"
URL = "${base}/"
[Tasks.Spec.rules.page]
output = {}
[Tasks.Spec.sitemaps]
urls = ["/big.xml"]
rule = "page"
`,
);

/** Requests of the frontier so far (0 before it exists). */
function queued(): number {
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
  await until("the worker to start", () => queued() >= 1 && sampler.peaks.samples > 0, 60_000);
  await until("a settled idle sample", () => sampler.peaks.samples > 20, 10_000);
  const idle = sampler.peaks.rssBytes;
  const started = performance.now();
  release();
  await until("the sitemap's pages in the frontier", () => queued() > urls, 120_000);
  const seconds = (performance.now() - started) / 1000;
  const { peakRssBytes } = sampler.stop();
  console.log(
    `worker idle RSS ${(idle / MiB).toFixed(0)} MiB, peak ${
      (peakRssBytes / MiB).toFixed(0)
    } MiB: ` +
      `+${((peakRssBytes - idle) / MiB).toFixed(0)} MiB (target < 200) for ${urls} URLs ` +
      `queued in ${seconds.toFixed(1)} s`,
  );
} finally {
  sampler.stop();
  child.kill("SIGKILL");
  await child.status;
  release();
  await server.shutdown();
  await Deno.remove(dir, { recursive: true });
}
