/**
 * @module
 * The broad profile's site: N hosts, each a loopback address 127.A.B.C (Linux routes all of
 * 127/8 to `lo`), served by one listener on one port from its own process. Every host has a
 * robots.txt and `pages` pages `/p0…`; every page links to the next page (the last page of a
 * host to page 0 of the next host, so every page is reachable from the root, page 0 of the first
 * host) and to pages on two other hosts chosen by a seeded hash (the same site every run), with
 * a few KB of filler. It records when every page request arrived, per host, so the bench can
 * tell the smallest gap between two requests to one host and which URLs were fetched more than
 * once.
 *
 *   deno run --allow-net bench/broad_site.ts [--hosts=50000] [--pages=6] [--filler=4096] [--seed=1]
 *
 * It listens on 0.0.0.0 (the only way one listener answers every 127/8 address) and answers
 * only peers in 127.0.0.0/8. Prints one JSON line {@linkcode BroadSiteInfo} when it listens.
 * Asked on `http://127.0.0.1:PORT` (never a site host): `/_count` gives the requests so far,
 * `/_stats?under=MS` the {@linkcode BroadSiteSummary}. Exits when its stdin closes (the parent
 * ended) or on SIGTERM.
 */

/** Hosts per value of the second octet: third and fourth octets each 1–254. */
const HOSTS_PER_BLOCK = 254 * 254;
/** Second octet 1–254 too: 127.0.x.x (so 127.0.0.1) is never a site host. */
export const MAX_HOSTS = 254 * HOSTS_PER_BLOCK;

/**
 * Host `i`'s address: 127.(1 + i / 64516).(1 + i / 254 % 254).(1 + i % 254), so no octet is 0
 * or 255 and 127.0.0.1 stays the control address.
 *
 * @example
 * ```ts
 * hostAddress(0); // "127.1.1.1"
 * hostAddress(254); // "127.1.2.1"
 * ```
 */
export function hostAddress(i: number): string {
  if (!Number.isInteger(i) || i < 0 || i >= MAX_HOSTS) throw new RangeError(`host ${i}`);
  const block = Math.floor(i / HOSTS_PER_BLOCK);
  const rest = i % HOSTS_PER_BLOCK;
  return `127.${1 + block}.${1 + Math.floor(rest / 254)}.${1 + rest % 254}`;
}

/** The host number of an address {@linkcode hostAddress} made; undefined for any other. */
export function hostIndex(address: string): number | undefined {
  const octets = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address)?.slice(1).map(Number);
  if (!octets || octets.some((o) => o < 1 || o > 254)) return undefined;
  const [a, b, c] = octets;
  return (a - 1) * HOSTS_PER_BLOCK + (b - 1) * 254 + (c - 1);
}

/** The shape of the site. */
export interface BroadSiteOptions {
  hosts: number;
  /** Pages per host. */
  pages: number;
  /** Filler bytes per page. Default 4096. */
  fillerBytes?: number;
  /** Seed of the cross-host links. Default 1. */
  seed?: number;
}

/** One 32-bit integer hash (lowbias32): the site's seeded, stateless random numbers. */
function mix(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * Where page `page` of host `host` links, as [host, page] pairs: first the next page (the last
 * page of a host links to page 0 of the next host, so following "next" from host 0's page 0
 * visits every page), then two random pages on other hosts (on the same host when there is
 * only one).
 */
export function pageLinks(
  host: number,
  page: number,
  options: BroadSiteOptions,
): Array<[number, number]> {
  const { hosts, pages } = options;
  const links: Array<[number, number]> = [];
  if (page + 1 < pages) links.push([host, page + 1]);
  else if (hosts > 1) links.push([(host + 1) % hosts, 0]);
  const base = mix((options.seed ?? 1) ^ mix(host * pages + page));
  for (let k = 0; k < 2; k++) {
    const r = mix(base + k * 0x9e3779b9);
    const other = hosts > 1 ? (host + 1 + r % (hosts - 1)) % hosts : host;
    links.push([other, mix(r) % pages]);
  }
  return links;
}

/** What the site knows about the requests it answered, for one crawl. */
export interface BroadSiteSummary {
  hosts: number;
  pagesPerHost: number;
  /** Pages on the site: hosts × pages. */
  urls: number;
  /** Page requests answered (a URL fetched twice counts twice). */
  pageRequests: number;
  robotsRequests: number;
  /** Distinct pages requested at least once. */
  fetched: number;
  /** Pages requested exactly once. */
  fetchedOnce: number;
  /** Pages requested more than once. */
  fetchedAgain: number;
  /** Most requests of one page. */
  mostRequestsOfOnePage: number;
  /** Most robots.txt requests of one host. */
  mostRobotsOfOneHost: number;
  /** Smallest time between two page requests to one host, ms; null with no host asked twice. */
  minGapMs: number | null;
  /** The host of that gap. */
  minGapHost: string | null;
  /** Gaps between two page requests to one host shorter than `underMs`. */
  gapsUnder: number;
  underMs: number;
  /** When the first and the last page requests arrived, ms since the site started. */
  firstMs: number | null;
  lastMs: number | null;
  /** Requests refused: the peer was not in 127/8. */
  refused: number;
  /** Requests for anything the site does not have. */
  notFound: number;
}

/** The JSON line the site prints when it listens. */
export interface BroadSiteInfo {
  port: number;
  /** Page 0 of host 0: the crawl's root. */
  root: string;
  /** `http://127.0.0.1:PORT`, where `/_count` and `/_stats` answer. */
  control: string;
  hosts: number;
  pagesPerHost: number;
  urls: number;
}

/** The site without a listener: answers requests and keeps the figures. */
export interface BroadSite {
  /** Answers `request` from the peer at `peer` (its IP address). */
  handle(request: Request, peer: string, port: number): Response;
  /** The figures so far; `underMs` sets which gaps `gapsUnder` counts. */
  summary(underMs?: number): BroadSiteSummary;
}

/**
 * Builds the site: pages made on demand from their host and number, requests recorded per host.
 * `now` is the clock in ms (default `performance.now`).
 */
export function createBroadSite(
  options: BroadSiteOptions,
  now: () => number = () => performance.now(),
): BroadSite {
  const { hosts, pages } = options;
  if (!(hosts >= 1 && hosts <= MAX_HOSTS && pages >= 1 && hosts * pages <= 50_000_000)) {
    throw new RangeError(`a site of ${hosts} hosts × ${pages} pages`);
  }
  const started = now();
  const requests = new Uint16Array(hosts * pages);
  const robots = new Uint16Array(hosts);
  /** Arrival times of page requests, per host, in order (the clock only moves forward). */
  const arrivals: Array<number[] | undefined> = new Array(hosts);
  const counts = { pages: 0, robots: 0, refused: 0, notFound: 0 };
  let firstMs: number | null = null;
  let lastMs: number | null = null;
  const fillerBytes = options.fillerBytes ?? 4096;
  const sentence = "Filler text of a page on a broad crawl's site. ";
  const filler = `<p>${
    sentence.repeat(Math.ceil(fillerBytes / sentence.length)).slice(0, fillerBytes)
  }</p>`;
  const headers = { "content-type": "text/html; charset=utf-8" };
  const robotsTxt = "User-agent: *\nDisallow: /private/\n";

  function page(host: number, index: number, port: number): string {
    const anchors = pageLinks(host, index, options).map(([h, p], k) =>
      h === host
        ? `<li><a href="/p${p}">${k === 0 ? "next" : "see also"}: page ${p}</a></li>`
        : `<li><a href="http://${hostAddress(h)}:${port}/p${p}">host ${h} page ${p}</a></li>`
    ).join("\n");
    return `<!doctype html><html><head><title>host ${host} page ${index}</title></head><body>
<h1>Host ${host}, page ${index}</h1><ul>${anchors}</ul>
${filler}</body></html>`;
  }

  function summary(underMs = 0): BroadSiteSummary {
    let fetched = 0, once = 0, again = 0, most = 0;
    for (const n of requests) {
      if (n > 0) fetched++;
      if (n === 1) once++;
      if (n > 1) again++;
      if (n > most) most = n;
    }
    let minGap = Infinity, minGapHost: string | null = null, under = 0;
    for (let h = 0; h < hosts; h++) {
      const times = arrivals[h];
      if (!times) continue;
      for (let i = 1; i < times.length; i++) {
        const gap = times[i] - times[i - 1];
        if (gap < underMs) under++;
        if (gap < minGap) {
          minGap = gap;
          minGapHost = hostAddress(h);
        }
      }
    }
    return {
      hosts,
      pagesPerHost: pages,
      urls: hosts * pages,
      pageRequests: counts.pages,
      robotsRequests: counts.robots,
      fetched,
      fetchedOnce: once,
      fetchedAgain: again,
      mostRequestsOfOnePage: most,
      mostRobotsOfOneHost: robots.reduce((m, n) => Math.max(m, n), 0),
      minGapMs: Number.isFinite(minGap) ? Math.round(minGap * 10) / 10 : null,
      minGapHost,
      gapsUnder: under,
      underMs,
      firstMs,
      lastMs,
      refused: counts.refused,
      notFound: counts.notFound,
    };
  }

  function control(url: URL): Response {
    if (url.pathname === "/_count") {
      return Response.json({ pageRequests: counts.pages, robotsRequests: counts.robots });
    }
    if (url.pathname === "/_stats") {
      return Response.json(summary(Number(url.searchParams.get("under") ?? 0)));
    }
    counts.notFound++;
    return new Response("not found", { status: 404 });
  }

  return {
    summary,
    handle(request, peer, port) {
      // Never a bench for anyone else: only this machine's loopback may ask.
      if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(peer)) {
        counts.refused++;
        return new Response("loopback peers only", { status: 403 });
      }
      const url = new URL(request.url);
      if (url.hostname === "127.0.0.1") return control(url);
      const host = hostIndex(url.hostname);
      if (host === undefined || host >= hosts) {
        counts.notFound++;
        return new Response("no such host", { status: 404 });
      }
      if (url.pathname === "/robots.txt") {
        counts.robots++;
        if (robots[host] < 65535) robots[host]++;
        return new Response(robotsTxt);
      }
      const index = /^\/p(\d{1,9})$/.exec(url.pathname)?.[1];
      if (index === undefined || Number(index) >= pages) {
        counts.notFound++;
        return new Response("not found", { status: 404 });
      }
      const at = now() - started;
      firstMs ??= at;
      lastMs = at;
      counts.pages++;
      const id = host * pages + Number(index);
      if (requests[id] < 65535) requests[id]++;
      (arrivals[host] ??= []).push(at);
      return new Response(page(host, Number(index), port), { headers });
    },
  };
}

function flag(name: string, fallback: number): number {
  const arg = Deno.args.find((a) => a.startsWith(`--${name}=`));
  const value = arg ? Number(arg.slice(name.length + 3)) : fallback;
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${name}: expected an integer`);
  return value;
}

if (import.meta.main) {
  const options: BroadSiteOptions = {
    hosts: flag("hosts", 50_000),
    pages: flag("pages", 6),
    fillerBytes: flag("filler", 4096),
    seed: flag("seed", 1),
  };
  const site = createBroadSite(options);
  const controller = new AbortController();
  let port = 0; // known once it listens; the handler only runs after that
  const server = Deno.serve({
    hostname: "0.0.0.0",
    port: 0,
    signal: controller.signal,
    onListen: () => {},
  }, (request, info) => site.handle(request, info.remoteAddr.hostname, port));
  port = server.addr.port;
  const info: BroadSiteInfo = {
    port,
    root: `http://${hostAddress(0)}:${port}/p0`,
    control: `http://127.0.0.1:${port}`,
    hosts: options.hosts,
    pagesPerHost: options.pages,
    urls: options.hosts * options.pages,
  };
  console.log(JSON.stringify(info));
  Deno.addSignalListener("SIGTERM", () => controller.abort());
  // The parent holds our stdin open; when it ends, so do we.
  (async () => {
    for await (const _ of Deno.stdin.readable) { /* only waiting for the end */ }
    controller.abort();
  })();
  await server.finished;
}
