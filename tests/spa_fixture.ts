/**
 * @module
 * A shop built by JavaScript, and its server-rendered twin, on 127.0.0.1.
 *
 * Under `/app/` every page is the same shell: an empty `<div id="app">` and a script that, once
 * the page has loaded, fetches the page's JSON from `/api/…` and writes its links and fields
 * into the document (with an image per item). Plain HTTP sees no link and no field there.
 * Under `/ssr/` the same pages come with that HTML already in them. `/app/forever` polls its API
 * every 100 ms for as long as it is open (its network is never idle); `robots.txt` disallows
 * `/app/private` and `/ssr/private`. Item pages also fetch a "beacon" from `localhost` (another
 * host than 127.0.0.1). Every request is counted by path, by host, and as an image or not.
 */

/** One item of the shop. */
export interface SpaItem {
  id: number;
  name: string;
  price: string;
  sku: string;
}

export interface SpaFixture {
  /** Base URL, e.g. http://127.0.0.1:41234; the app is at `${url}/app/`, its twin `${url}/ssr/`. */
  url: string;
  items: SpaItem[];
  /** List pages (each links `perList` items and the next list). */
  lists: number;
  /** Times each path was requested (any host). */
  requests: Map<string, number>;
  /** Requests for images (`/img/…`). */
  imageRequests(): number;
  /** Requests whose `Host` was not the fixture's own (`localhost:…` instead of 127.0.0.1). */
  foreignRequests(): number;
  /** Requests whose path starts with `prefix`. */
  hits(prefix: string): number;
  close(): Promise<void>;
}

/** Serves `items` items, `perList` to a list page; the API answers after `apiDelayMs`. */
export function startSpaFixture(
  options: { items?: number; perList?: number; apiDelayMs?: number } = {},
): SpaFixture {
  const count = options.items ?? 300;
  const perList = options.perList ?? 30;
  const lists = Math.ceil(count / perList);
  const items: SpaItem[] = Array.from({ length: count }, (_, i) => {
    const id = i + 1;
    return {
      id,
      name: `Widget ${id} – ${["red", "green", "blue"][id % 3]}`,
      price: (id * 1.25).toFixed(2),
      sku: `SKU-${(0x1000 + id).toString(16)}`,
    };
  });
  const requests = new Map<string, number>();
  let images = 0;
  let foreign = 0;

  const escape = (s: string) =>
    s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
  const page = (title: string, body: string, head = "") =>
    `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${
      escape(title)
    }</title>${head}</head><body>${body}</body></html>`;

  /** The page's content as data: what the app's script and the twin's server both render. */
  const listData = (n: number) => ({
    kind: "list",
    items: items.slice((n - 1) * perList, n * perList).map(({ id, name }) => ({ id, name })),
    next: n < lists ? n + 1 : null,
  });
  const itemData = (id: number) => ({ kind: "item", ...items[id - 1] });

  // The same rendering, as server-side TypeScript for the twin and as the app's script.
  const listHtml = (prefix: string, data: ReturnType<typeof listData>) =>
    `<ul>${
      data.items.map((i) =>
        `<li><a class="item" href="${prefix}/item/${i.id}">${escape(i.name)}</a>` +
        `<img src="/img/thumb-${i.id}.png" alt=""></li>`
      ).join("")
    }</ul>` + (data.next ? `<a class="next" href="${prefix}/list/${data.next}">next</a>` : "");
  const itemHtml = (data: ReturnType<typeof itemData>) =>
    `<h1 class="name">${escape(data.name)}</h1><p>Price: <span class="price">${data.price}` +
    `</span></p><p class="sku" data-sku="${data.sku}">${data.sku}</p>` +
    `<img src="/img/item-${data.id}.png" alt="">`;

  const appScript = (port: number) => `
const esc = (s) => s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
const path = location.pathname.replace(/^\\/app/, "");
addEventListener("load", async () => {
  if (path === "/forever") {
    setInterval(() => fetch("/api/ping").catch(() => {}), 100);
    return;
  }
  const data = await (await fetch("/api" + (path === "/" ? "/list/1" : path))).json();
  const app = document.getElementById("app");
  if (data.kind === "list") {
    app.innerHTML = "<ul>" + data.items.map((i) =>
      '<li><a class="item" href="/app/item/' + i.id + '">' + esc(i.name) + '</a>' +
      '<img src="/img/thumb-' + i.id + '.png" alt=""></li>').join("") + "</ul>" +
      (data.next ? '<a class="next" href="/app/list/' + data.next + '">next</a>' : "");
  } else {
    fetch("http://localhost:${port}/beacon?id=" + data.id).catch(() => {});
    app.innerHTML = '<h1 class="name">' + esc(data.name) + '</h1><p>Price: <span class="price">' +
      data.price + '</span></p><p class="sku" data-sku="' + data.sku + '">' + data.sku + "</p>" +
      '<img src="/img/item-' + data.id + '.png" alt="">';
  }
});
`;

  const html = (body: string, status = 200) =>
    new Response(body, { status, headers: { "content-type": "text/html; charset=utf-8" } });

  const server: Deno.HttpServer<Deno.NetAddr> = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
  }, async (req): Promise<Response> => {
    const url = new URL(req.url);
    const path = url.pathname;
    requests.set(path, (requests.get(path) ?? 0) + 1);
    if (req.headers.get("host") !== `127.0.0.1:${port}`) foreign++;
    if (path.startsWith("/img/")) {
      images++;
      return new Response(new Uint8Array([0x89, 0x50, 0x4e, 0x47]), {
        headers: { "content-type": "image/png" },
      });
    }
    if (path === "/robots.txt") {
      return new Response("User-agent: *\nDisallow: /app/private\nDisallow: /ssr/private\n");
    }
    if (path === "/static/app.js") {
      return new Response(appScript(port), {
        headers: { "content-type": "text/javascript; charset=utf-8" },
      });
    }
    if (path === "/api/ping" || path === "/beacon") return new Response("ok");
    const list = /^\/(app|ssr|api)\/list\/(\d+)$/.exec(path);
    const item = /^\/(app|ssr|api)\/item\/(\d+)$/.exec(path);
    const n = Number((list ?? item)?.[2]);
    if ((list && (n < 1 || n > lists)) || (item && (n < 1 || n > count))) {
      return html(page("Not found", "<p>no such page</p>"), 404);
    }
    const area = (list ?? item)?.[1] ??
      (path.startsWith("/app/") ? "app" : path.startsWith("/ssr/") ? "ssr" : undefined);
    if (area === "api") {
      if (options.apiDelayMs) await new Promise((r) => setTimeout(r, options.apiDelayMs));
      return Response.json(list ? listData(n) : itemData(n));
    }
    if (area === "app") {
      return html(
        page("Shop", `<div id="app">Loading…</div>`, `<script src="/static/app.js"></script>`),
      );
    }
    if (area === "ssr") {
      if (path === "/ssr/" || list) return html(page("Shop", listHtml("/ssr", listData(n || 1))));
      if (item) return html(page("Shop", itemHtml(itemData(n))));
      return html(page("Shop", "<p>nothing here</p>"));
    }
    return html(page("Not found", "<p>no such page</p>"), 404);
  });
  const port: number = server.addr.port;
  return {
    url: `http://127.0.0.1:${port}`,
    items,
    lists,
    requests,
    imageRequests: () => images,
    foreignRequests: () => foreign,
    hits: (prefix) =>
      [...requests].reduce((n, [path, times]) => n + (path.startsWith(prefix) ? times : 0), 0),
    close: () => server.shutdown(),
  };
}
