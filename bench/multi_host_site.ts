/**
 * @module
 * Serves a site spread over many hosts (one loopback port each) from its own process, for the
 * politeness bench: every host has a robots.txt and `pages` pages, and each page links to pages
 * on other hosts, so a crawl keeps many hosts busy at once.
 *
 *   deno run --allow-net bench/multi_host_site.ts [--hosts=20] [--pages=100] [--links=20]
 *
 * Prints one JSON line `{"urls": ["http://127.0.0.1:PORT", …], "pages": TOTAL}` when every host
 * listens, and exits when its stdin closes (the parent ended) or on SIGTERM.
 */

function flag(name: string, fallback: number): number {
  const arg = Deno.args.find((a) => a.startsWith(`--${name}=`));
  return arg ? Number(arg.slice(name.length + 3)) : fallback;
}

const hosts = flag("hosts", 20);
const pages = flag("pages", 100);
const links = flag("links", 20);
const controller = new AbortController();
const ports: number[] = [];
const servers: Deno.HttpServer[] = [];
const encoder = new TextEncoder();
const headers = { "content-type": "text/html; charset=utf-8" };
const robots = encoder.encode("User-agent: *\nDisallow: /private/\nAllow: /private/open\n");

for (let h = 0; h < hosts; h++) {
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    signal: controller.signal,
    onListen: () => {},
  }, (request) => {
    const path = new URL(request.url).pathname;
    if (path === "/robots.txt") return new Response(robots);
    const i = /^\/p(\d+)$/.exec(path)?.[1];
    if (i === undefined || Number(i) >= pages) return new Response("not found", { status: 404 });
    return new Response(encoder.encode(page(h, Number(i))), { headers });
  });
  servers.push(server);
  ports.push(server.addr.port);
}

/** Page `i` of host `h`: the next page here, the same page on the next host, and others. */
function page(h: number, i: number): string {
  const targets = [[h, i + 1], [(h + 1) % hosts, i]];
  for (let k = 0; k < links; k++) {
    targets.push([(h + k * 7 + 3) % hosts, (i * 31 + k * 17) % pages]);
  }
  const anchors = targets
    .filter(([, p]) => p < pages)
    .map(([th, p]) => `<a href="http://127.0.0.1:${ports[th]}/p${p}">page ${p}</a>`)
    .join("\n");
  return `<html><head><title>host ${h} page ${i}</title></head><body>${anchors}${
    "<p>filler text for a page of a few kilobytes.</p>".repeat(60)
  }</body></html>`;
}

console.log(
  JSON.stringify({ urls: ports.map((p) => `http://127.0.0.1:${p}`), pages: hosts * pages }),
);
Deno.addSignalListener("SIGTERM", () => controller.abort());
(async () => {
  for await (const _ of Deno.stdin.readable) { /* only waiting for the end */ }
  controller.abort();
})();
await Promise.all(servers.map((s) => s.finished));
Deno.exit(0);
