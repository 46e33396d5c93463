/**
 * @module
 * A fixture of several sites, each its own host (a loopback port), that record when every
 * request arrives, for the politeness tests:
 *
 * - `robots`: robots.txt with `Disallow: /private`, `Allow: /private/open` and `Crawl-delay: 1`;
 * - `throttle`: a chain of pages, one of which answers 429 with `Retry-After: 2` the first time;
 * - `unavailable`: one page answering 503 every time (no Retry-After), another answering 200;
 * - `broken`: robots.txt answering 500 (the host must be left alone);
 * - `open`: robots.txt answering 404 (everything allowed).
 *
 * `/` of the `robots` site links to every site's start page, so one task crawls them all.
 */

/** One request as the fixture saw it. */
export interface SeenRequest {
  site: SiteName;
  path: string;
  /** Epoch ms (integer, like the crawler's clock) when the request arrived. */
  at: number;
  status: number;
  userAgent: string;
}

export type SiteName = "robots" | "throttle" | "unavailable" | "broken" | "open";

export interface PoliteFixture {
  /** Base URL of each site, e.g. `http://127.0.0.1:41234`. */
  readonly urls: Readonly<Record<SiteName, string>>;
  /** Every request so far, in arrival order. */
  readonly seen: readonly SeenRequest[];
  /** Requests to one site (robots.txt excluded unless `withRobots`). */
  requests(site: SiteName, options?: { withRobots?: boolean }): SeenRequest[];
  close(): Promise<void>;
}

const ROBOTS_TXT = `# the politeness fixture
User-agent: *
Disallow: /private
Allow: /private/open
Crawl-delay: 1

User-agent: someotherbot
Disallow: /
`;

function page(title: string, links: string[]): Response {
  const body = `<html><head><title>${title}</title></head><body>${
    links.map((href) => `<a href="${href}">${href}</a>`).join(" ")
  }</body></html>`;
  return new Response(body, { headers: { "content-type": "text/html; charset=utf-8" } });
}

/** Options for {@linkcode startPoliteFixture}. */
export interface PoliteFixtureOptions {
  /** Extra pages `/n1` … `/nN` linked from the `robots` site's `/`. Default 0. */
  extraPages?: number;
}

/** Starts the fixture's sites on free loopback ports. */
export function startPoliteFixture(options: PoliteFixtureOptions = {}): PoliteFixture {
  const extra = Array.from({ length: options.extraPages ?? 0 }, (_, i) => `/n${i + 1}`);
  const seen: SeenRequest[] = [];
  const urls = {} as Record<SiteName, string>;
  const servers: Deno.HttpServer[] = [];
  let throttledOnce = false;

  const handlers: Record<SiteName, (path: string) => Response> = {
    robots: (path) => {
      if (path === "/robots.txt") return new Response(ROBOTS_TXT);
      if (path === "/") {
        return page("home", [
          "/a1",
          "/a2",
          "/private/secret",
          "/private/open/1",
          `${urls.throttle}/`,
          `${urls.unavailable}/`,
          `${urls.broken}/`,
          `${urls.open}/`,
          ...extra,
        ]);
      }
      if (path === "/a1") return page("a1", ["/a3", "/private/hidden"]);
      return page(path, []);
    },
    throttle: (path) => {
      if (path === "/robots.txt") return new Response("not found", { status: 404 });
      const chain = ["/", "/b1", "/b2", "/b3", "/b4"];
      const i = chain.indexOf(path);
      if (i < 0) return new Response("no", { status: 404 });
      if (path === "/b2" && !throttledOnce) {
        throttledOnce = true;
        return new Response("slow down", { status: 429, headers: { "retry-after": "2" } });
      }
      return page(path, chain.slice(i + 1, i + 2));
    },
    unavailable: (path) => {
      if (path === "/robots.txt") return new Response("not found", { status: 404 });
      if (path === "/") return page("c", ["/c1", "/c2"]);
      if (path === "/c1") return new Response("busy", { status: 503 });
      return page(path, []);
    },
    broken: (path) => {
      if (path === "/robots.txt") return new Response("oops", { status: 500 });
      return page(path, ["/d1"]);
    },
    open: (path) => {
      if (path === "/robots.txt") return new Response("not found", { status: 404 });
      if (path === "/") return page("e", ["/private/e1", "/e2"]);
      return page(path, []);
    },
  };

  for (const site of Object.keys(handlers) as SiteName[]) {
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
      const at = Date.now();
      const path = new URL(req.url).pathname;
      const response = handlers[site](path);
      seen.push({
        site,
        path,
        at,
        status: response.status,
        userAgent: req.headers.get("user-agent") ?? "",
      });
      return response;
    });
    servers.push(server);
    urls[site] = `http://127.0.0.1:${server.addr.port}`;
  }

  return {
    urls,
    seen,
    requests(site, options = {}) {
      return seen.filter((r) =>
        r.site === site && (options.withRobots || r.path !== "/robots.txt")
      );
    },
    async close() {
      await Promise.all(servers.map((server) => server.shutdown()));
    },
  };
}

/** Gaps between consecutive requests, in ms. */
export function gaps(requests: readonly SeenRequest[]): number[] {
  return requests.slice(1).map((r, i) => r.at - requests[i].at);
}
