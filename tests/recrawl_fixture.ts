/**
 * @module
 * A site on 127.0.0.1 for recrawls (docs/frontier.md, "Recrawl"): a home page linking list
 * pages, each linking `perList` article pages; every article lists three items in `li.item`
 * and carries a token that changes on every fetch (outside the items, as pages carry timestamps).
 * Every page sends an `ETag` and a `Last-Modified` and answers a matching conditional GET with
 * 304. `change` edits articles: their first item changes and their last is removed. It records
 * every request but robots.txt's (which allows everything): path, time, status and bytes sent.
 */

/** One request the site answered. */
export interface RecrawlHit {
  path: string;
  /** When it arrived, ms since the epoch. */
  at: number;
  status: number;
  /** Body bytes sent. */
  bytes: number;
  /**
   * Bytes on the wire: the body, the status line and the headers (those set here, plus the
   * `date`, `content-length`/`content-type` and `vary` the server adds, counted as written).
   */
  wireBytes: number;
  /** True when it carried `If-None-Match` or `If-Modified-Since`. */
  conditional: boolean;
}

export interface RecrawlFixture {
  /** Base URL, e.g. http://127.0.0.1:41234 (the home page is at `${url}/`). */
  url: string;
  /** Article paths, `/a/<n>`. */
  articles: string[];
  /** Every page: the home page, the lists and the articles. */
  pages: number;
  /** Every request answered, in order. */
  readonly hits: RecrawlHit[];
  /** Requests of `path` so far. */
  hitsOf(path: string): RecrawlHit[];
  /** The items an article lists now. */
  itemsOf(path: string): string[];
  /** Changes these articles: their first item is rewritten, their last removed. */
  change(paths: readonly string[]): void;
  close(): Promise<void>;
}

/**
 * Serves `lists` list pages of `perList` articles each; `padBytes` of boilerplate (a page's
 * scripts and navigation, outside the items) make each article weigh what a real page does.
 */
export function startRecrawlFixture(
  options: { lists?: number; perList?: number; padBytes?: number } = {},
): RecrawlFixture {
  const pad = `<script>/*${"x".repeat(options.padBytes ?? 0)}*/</script>`;
  const lists = options.lists ?? 20;
  const perList = options.perList ?? 50;
  const articles = Array.from({ length: lists * perList }, (_, i) => `/a/${i}`);
  /** Each page's version: bumped by `change`, it makes a new ETag and Last-Modified. */
  const versions = new Map<string, number>();
  const items = new Map(
    articles.map((path, i) => [path, [`a${i} one`, `a${i} two`, `a${i} three`]]),
  );
  const hits: RecrawlHit[] = [];
  const byPath = new Map<string, RecrawlHit[]>();
  const born = Date.UTC(2026, 0, 1);
  let token = 0;

  const body = (path: string): string | undefined => {
    if (path === "/") {
      return Array.from({ length: lists }, (_, l) => `<a href="/l/${l}">list ${l}</a>`).join("\n");
    }
    const list = /^\/l\/(\d+)$/.exec(path);
    if (list && Number(list[1]) < lists) {
      const first = Number(list[1]) * perList;
      return Array.from({ length: perList }, (_, i) => `<a href="/a/${first + i}">article</a>`)
        .join("\n");
    }
    const listed = items.get(path);
    if (!listed) return undefined;
    return `<h1>${path}</h1><ul>${listed.map((i) => `<li class="item">${i}</li>`).join("")}</ul>` +
      `<p class="token">served ${++token} at ${Date.now()}</p>${pad}`;
  };

  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const path = new URL(request.url).pathname;
    if (path === "/robots.txt") return new Response("User-agent: *\nAllow: /\n");
    const version = versions.get(path) ?? 0;
    const etag = `"${path}-v${version}"`;
    const lastModified = new Date(born + version * 60_000).toUTCString();
    const ifNoneMatch = request.headers.get("if-none-match");
    const ifModifiedSince = request.headers.get("if-modified-since");
    const hit = (status: number, bytes: number, headers: Record<string, string> = {}) => {
      const head = `HTTP/1.1 ${status} \r\n` +
        Object.entries({ ...headers, date: new Date().toUTCString(), "content-length": `${bytes}` })
          .map(([name, value]) => `${name}: ${value}\r\n`).join("") +
        "\r\n";
      const entry = {
        path,
        at: Date.now(),
        status,
        bytes,
        wireBytes: head.length + bytes,
        conditional: ifNoneMatch !== null || ifModifiedSince !== null,
      };
      hits.push(entry);
      byPath.set(path, [...byPath.get(path) ?? [], entry]);
    };
    const text = body(path);
    if (text === undefined) {
      hit(404, 0);
      return new Response("not found", { status: 404 });
    }
    // If-None-Match wins over If-Modified-Since (RFC 9110, 13.2.2).
    const notModified = ifNoneMatch !== null
      ? ifNoneMatch === etag
      : ifModifiedSince !== null && Date.parse(ifModifiedSince) >= Date.parse(lastModified);
    const headers = { etag, "last-modified": lastModified };
    if (notModified) {
      hit(304, 0, headers);
      return new Response(null, { status: 304, headers });
    }
    const html = `<!DOCTYPE html><html><body>${text}</body></html>`;
    const bytes = new TextEncoder().encode(html);
    const sent = { ...headers, "content-type": "text/html; charset=utf-8" };
    hit(200, bytes.byteLength, sent);
    return new Response(bytes, { headers: sent });
  });

  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    articles,
    pages: 1 + lists + articles.length,
    hits,
    hitsOf: (path) => byPath.get(path) ?? [],
    itemsOf: (path) => [...items.get(path) ?? []],
    change(paths) {
      for (const path of paths) {
        const listed = items.get(path);
        if (!listed) throw new Error(`no article ${path}`);
        const version = (versions.get(path) ?? 0) + 1;
        versions.set(path, version);
        items.set(path, [`${listed[0].split(" v")[0]} v${version}`, ...listed.slice(1, -1)]);
      }
    },
    close: () => server.shutdown(),
  };
}

/**
 * A config file's task (TOML keys) crawling the fixture at `siteUrl` with a declarative rule set
 * (home → lists → articles, an item per `li.item`) and the `Recrawl` section `recrawl`.
 */
export function recrawlTask(siteUrl: string, recrawl: Record<string, unknown>) {
  return {
    Name: "fresh",
    URL: `${siteUrl}/`,
    MaxDepth: 5,
    Recrawl: recrawl,
    Spec: {
      rules: {
        home: { links: [{ selector: "a", rule: "list" }] },
        list: { links: [{ selector: "a", rule: "article" }] },
        article: { output: { each: "li.item", fields: { text: {} } } },
      },
    },
  };
}
