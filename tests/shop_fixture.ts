/**
 * @module
 * A small shop on 127.0.0.1 for declarative rule sets: a home page linking categories (and one
 * site elsewhere), category pages listing products in `div.product` blocks and paginated through
 * a `data-next` attribute (and a "next" link), and product pages. Every third product page mentions a limited offer.
 * It records every path requested.
 */

export interface ShopProduct {
  id: number;
  name: string;
  price: string;
  sku: string;
  category: number;
  page: number;
  offer: boolean;
}

export interface ShopFixture {
  /** Base URL, e.g. http://127.0.0.1:41234 (the home page is at `${url}/`). */
  url: string;
  products: ShopProduct[];
  /** Times each path was requested. */
  requests: Map<string, number>;
  /** Distinct pages reachable from the home page. */
  pages: number;
  close(): Promise<void>;
}

/** Serves `categories` categories of `pagesPerCategory` pages with `perPage` products each. */
export function startShopFixture(
  options: { categories?: number; pagesPerCategory?: number; perPage?: number } = {},
): ShopFixture {
  const categories = options.categories ?? 3;
  const pagesPerCategory = options.pagesPerCategory ?? 2;
  const perPage = options.perPage ?? 4;
  const products: ShopProduct[] = [];
  for (let c = 0; c < categories; c++) {
    for (let p = 0; p < pagesPerCategory; p++) {
      for (let i = 0; i < perPage; i++) {
        const id = products.length + 1;
        products.push({
          id,
          name: `Product ${id} <${c}>`,
          price: (9.5 + id).toFixed(2),
          sku: `SKU-${1000 + id}`,
          category: c,
          page: p,
          offer: id % 3 === 0,
        });
      }
    }
  }
  const escape = (s: string) =>
    s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
  const html = (title: string, body: string) =>
    `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${
      escape(title)
    }</title></head><body>${body}</body></html>`;

  const home = () =>
    html(
      "Shop",
      `<nav>${
        Array.from(
          { length: categories },
          (_, c) => `<a class="category" href="/c/${c}">Category ${c}</a>`,
        ).join(" ")
      } <a class="category" href="http://127.0.0.2:9/elsewhere">elsewhere</a></nav>`,
    );
  const category = (c: number, p: number) => {
    const listed = products.filter((x) => x.category === c && x.page === p);
    const nextUrl = p + 1 < pagesPerCategory ? `/c/${c}?page=${p + 1}` : undefined;
    const next = nextUrl ? ` data-next="${nextUrl}"` : "";
    return html(
      `Category ${c}, page ${p}`,
      `<main${next}>${
        listed.map((x) =>
          `<div class="product"><h2><a href="/product/${x.id}">${escape(x.name)}</a></h2>` +
          `<span class="price">€ ${x.price}</span></div>`
        ).join("\n")
      }<a href="/">home</a> <a href="/product/${listed[0].id}#reviews">reviews</a>${
        nextUrl ? ` <a class="next" href="${nextUrl}">next</a>` : ""
      }</main>`,
    );
  };
  const product = (x: ShopProduct) =>
    html(
      x.name,
      `<h1>${escape(x.name)}</h1><div id="sku" data-sku="${x.sku}">${x.sku}</div>` +
        (x.offer ? "<p>Limited offer!</p>" : "") + `<a href="/c/${x.category}">back</a>`,
    );

  const requests = new Map<string, number>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
    const url = new URL(request.url);
    requests.set(url.pathname + url.search, (requests.get(url.pathname + url.search) ?? 0) + 1);
    let body: string | undefined;
    if (url.pathname === "/") body = home();
    const c = /^\/c\/(\d+)$/.exec(url.pathname);
    if (c && Number(c[1]) < categories) {
      body = category(Number(c[1]), Number(url.searchParams.get("page") ?? 0));
    }
    const p = /^\/product\/(\d+)$/.exec(url.pathname);
    const found = p ? products.find((x) => x.id === Number(p[1])) : undefined;
    if (found) body = product(found);
    if (body === undefined) return new Response("not found", { status: 404 });
    return new Response(body, { headers: { "content-type": "text/html; charset=utf-8" } });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    products,
    requests,
    pages: 1 + categories * pagesPerCategory + products.length,
    close: () => server.shutdown(),
  };
}
