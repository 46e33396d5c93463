/**
 * @module
 * Serves a bench site on 127.0.0.1 from its own process, so serving does not share the crawler's
 * event loop: the generated one (`--profile=generated`: link lists) or the realistic one
 * (`--profile=realistic`: documentation-like pages, see `realistic_site.ts`). Pages are encoded
 * once at start; each request only sends bytes.
 *
 *   deno run --allow-net bench/site_server.ts [--profile=generated] [--pages=5000] [--links=300]
 *
 * Prints one JSON line `{"url": "http://127.0.0.1:PORT", "pages": N, "bytes": AVG}` when it
 * listens, and exits when its stdin closes (the parent ended) or on SIGTERM.
 */
import { generateSite, pageIndex } from "./generated_site.ts";
import { generateRealisticSite, realisticPageIndex } from "./realistic_site.ts";

function flag(name: string, fallback: number): number {
  const arg = Deno.args.find((a) => a.startsWith(`--${name}=`));
  return arg ? Number(arg.slice(name.length + 3)) : fallback;
}

const pages = flag("pages", 5000);
const realistic = Deno.args.includes("--profile=realistic");
const indexOf = realistic ? realisticPageIndex : pageIndex;
const html = realistic
  ? generateRealisticSite({ pages })
  : generateSite({ pages, linksPerPage: flag("links", 300) });
let bodies: Uint8Array[] = [];
const headers = { "content-type": "text/html; charset=utf-8" };
const controller = new AbortController();
const server = Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  signal: controller.signal,
  onListen: () => {},
}, (request) => {
  const i = indexOf(new URL(request.url).pathname, pages);
  if (i === undefined || bodies[i] === undefined) {
    return new Response("not found", { status: 404 });
  }
  return new Response(bodies[i], { headers });
});
// Absolute links name the server's own host, known once it listens.
const host = `127.0.0.1:${server.addr.port}`;
const encoder = new TextEncoder();
bodies = html.map((page) => encoder.encode(page.replaceAll("//HOST/", `//${host}/`)));
const bytes = Math.round(bodies.reduce((n, b) => n + b.byteLength, 0) / pages);
console.log(JSON.stringify({ url: `http://${host}`, pages, bytes }));
Deno.addSignalListener("SIGTERM", () => controller.abort());
// The parent holds our stdin open; when it ends, so do we.
(async () => {
  for await (const _ of Deno.stdin.readable) { /* only waiting for the end */ }
  controller.abort();
})();
await server.finished;
Deno.exit(0);
