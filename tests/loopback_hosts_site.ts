/**
 * @module
 * A site of many hosts on one listener, for broad-crawl tests: host `i` is the loopback address
 * 127.1.x.y (Linux routes all of 127/8 to lo), every host on the same port. The listener binds
 * 0.0.0.0 to accept every loopback address and refuses peers outside 127/8, so nothing but this
 * machine can use it. Each host serves `/robots.txt` and `pages` pages; page `k` links to page
 * `k + 1` of its host and to page 0 of two other hosts; `/` of host 0 lists page 0 of every host.
 * Every request is counted per URL.
 */

/** The fixture's handle. */
export interface LoopbackHostsSite {
  /** The root: `/` of host 0, linking to every host. */
  root: string;
  hosts: number;
  pages: number;
  /** Requests per URL (`http://127.1.x.y:port/path`), robots.txt included. */
  requests: Map<string, number>;
  /** Page requests (robots.txt left out). */
  pageRequests(): number;
  close(): Promise<void>;
}

/** The loopback address of host `i` (never .0 or .255 in the last octet). */
export function hostAddress(i: number): string {
  return `127.1.${Math.floor(i / 250)}.${(i % 250) + 1}`;
}

/** Starts the site; resolves once it listens. */
export function startLoopbackHostsSite(
  options: { hosts: number; pages: number },
): LoopbackHostsSite {
  const { hosts, pages } = options;
  const requests = new Map<string, number>();
  const html = { "content-type": "text/html; charset=utf-8" };
  let port = 0;
  const link = (h: number, k: number) =>
    `<a href="http://${hostAddress(h)}:${port}/p${k}">host ${h} page ${k}</a>`;
  const server = Deno.serve(
    { hostname: "0.0.0.0", port: 0, onListen() {} },
    (request, info) => {
      const peer = (info.remoteAddr as Deno.NetAddr).hostname;
      if (!peer.startsWith("127.")) return new Response("loopback only", { status: 403 });
      const url = new URL(request.url);
      requests.set(url.href, (requests.get(url.href) ?? 0) + 1);
      const m = /^127\.1\.(\d+)\.(\d+)$/.exec(url.hostname);
      const h = m ? Number(m[1]) * 250 + Number(m[2]) - 1 : -1;
      if (h < 0 || h >= hosts) return new Response("no such host", { status: 404 });
      if (url.pathname === "/robots.txt") return new Response("User-agent: *\nAllow: /\n");
      if (url.pathname === "/" && h === 0) {
        const all = Array.from({ length: hosts }, (_, i) => link(i, 0)).join("\n");
        return new Response(`<html><title>all hosts</title><body>${all}</body></html>`, {
          headers: html,
        });
      }
      const k = Number(/^\/p(\d+)$/.exec(url.pathname)?.[1] ?? NaN);
      if (!(k >= 0 && k < pages)) return new Response("not found", { status: 404 });
      const links = [
        k + 1 < pages ? link(h, k + 1) : "",
        link((h * 7 + 3) % hosts, 0),
        link((h * 13 + 5) % hosts, 0),
      ].join("\n");
      return new Response(
        `<html><title>host ${h} page ${k}</title><body>${links}</body></html>`,
        { headers: html },
      );
    },
  );
  port = server.addr.port;
  return {
    root: `http://${hostAddress(0)}:${port}/`,
    hosts,
    pages,
    requests,
    pageRequests: () =>
      [...requests].filter(([url]) => !url.endsWith("/robots.txt"))
        .reduce((n, [, count]) => n + count, 0),
    close: () => server.shutdown(),
  };
}
