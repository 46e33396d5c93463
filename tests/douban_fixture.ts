/**
 * @module
 * A local site on 127.0.0.1 that imitates douban's book pages closely enough for the
 * ported `douban_book_list` rules: a tag page → one list page per tag → book detail pages.
 * Some detail pages are served in GBK, some fail once with a 500, and list pages share a
 * few books so deduplication is visible. It records every path requested.
 */
import { encodeGbk } from "./gbk_encode.ts";

export interface FixtureBook {
  id: number;
  书名: string;
  作者: string;
  页数: number;
  出版社: string;
  得分: string;
  价格: string;
  简介: string;
  gbk: boolean;
  failsOnce: boolean;
}

export interface DoubanFixtureOptions {
  /** Number of tags (list pages). Default 3. */
  tags?: number;
  /** Books per tag. Default 5. */
  booksPerTag?: number;
  /** Every n-th book is served in GBK. Default 4 (0: none). */
  gbkEvery?: number;
  /** Every n-th book fails once with 500 before it is served. Default 7 (0: none). */
  failOnceEvery?: number;
  /** Extra delay per response, ms. Default 0. */
  latencyMs?: number;
  /**
   * With it, each response's delay is drawn evenly between `latencyMs` and this, ms. Default:
   * `latencyMs` every time.
   */
  latencyMaxMs?: number;
  /** Port to listen on. Default 0 (a free port). */
  port?: number;
}

export interface DoubanFixture {
  /** Base URL, e.g. http://127.0.0.1:41234 (the tag page is at `${url}/`). */
  url: string;
  books: FixtureBook[];
  /** Times each page was requested (robots.txt is not a page: see `robotsRequests`). */
  requests: Map<string, number>;
  /** Times robots.txt was requested (it answers 404: everything allowed). */
  readonly robotsRequests: number;
  /** Paths in request order. */
  log: string[];
  /** Total distinct pages on the site. */
  pages: number;
  close(): Promise<void>;
}

function makeBooks(options: Required<DoubanFixtureOptions>): FixtureBook[] {
  const total = options.tags * options.booksPerTag;
  return Array.from({ length: total }, (_, i) => {
    const id = 1000 + i;
    return {
      id,
      书名: `测试之书 ${i}`,
      作者: `作者${i % 17}`,
      页数: 100 + i,
      出版社: `出版社${i % 5}`,
      得分: (5 + (i % 50) / 10).toFixed(1),
      价格: ` ${(20 + i % 30).toFixed(2)}元`,
      简介: `这是第${i}本书的简介。`,
      gbk: options.gbkEvery > 0 && i % options.gbkEvery === 1,
      failsOnce: options.failOnceEvery > 0 && i % options.failOnceEvery === 3,
    };
  });
}

function tagPage(tags: number): string {
  const links = Array.from(
    { length: tags },
    (_, t) => `<td><a href="/tag/T${t}" class="tag">T${t}</a><b>(${t})</b></td>`,
  );
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>豆瓣图书标签</title></head>
<body><div class="article"><table class="tagCol"><tbody><tr>${
    links.join("\n")
  }</tr></tbody></table></div>
${"<!-- padding -->".repeat(50)}</body></html>`;
}

function listPage(base: string, books: FixtureBook[]): string {
  const items = books.map((b) =>
    `<li class="subject-item">
  <div class="pic"><a class="nbg" href="${base}/subject/${b.id}/" onclick="moreurl(this,{i:'0'})"><img class="" src="/img/${b.id}.jpg" width="90"></a></div>
  <div class="info"><h2 class=""><a href="${base}/subject/${b.id}/" title="${b.书名}" onclick="moreurl(this,{i:'0'})">${b.书名}</a></h2></div>
</li>`
  );
  return `<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>
<ul class="subject-list">${items.join("\n")}</ul></body></html>`;
}

function detailPage(b: FixtureBook, charset: string): string {
  return `<!DOCTYPE html><html lang="zh-CN"><head><meta http-equiv="Content-Type" content="text/html; charset=${charset}"><title>${b.书名} (豆瓣)</title></head>
<body><div id="wrapper"><h1><span property="v:itemreviewed">${b.书名}</span></h1>
<div id="info" class="">
    <span>
      <span class="pl"> 作者</span>:
        <a class="" href="/search/${encodeURIComponent(b.作者)}">${b.作者}</a>
    </span><br/>
    <span class="pl">出版社:</span>
      <a href="/press/${b.id % 5}">${b.出版社}</a>
    <br>
    <span class="pl">页数:</span> ${b.页数}<br/>
    <span class="pl">定价:</span>${b.价格}<br/>
</div>
<div class="rating_self clearfix" typeof="v:Rating">
  <strong class="ll rating_num " property="v:average">${b.得分}</strong>
</div>
<div class="related_info"><div class="indent" id="link-report">
  <span class="short"><div class="intro">
    <p>${b.简介}</p></div></span>
</div></div>
${"<!-- padding to a realistic size -->".repeat(80)}
</div></body></html>`;
}

/** Starts the fixture on a free loopback port. */
export function startDoubanFixture(options: DoubanFixtureOptions = {}): DoubanFixture {
  const opts: Required<DoubanFixtureOptions> = {
    tags: 3,
    booksPerTag: 5,
    gbkEvery: 4,
    failOnceEvery: 7,
    latencyMs: 0,
    latencyMaxMs: options.latencyMs ?? 0,
    port: 0,
    ...options,
  };
  const books = makeBooks(opts);
  const byId = new Map(books.map((b) => [b.id, b]));
  const requests = new Map<string, number>();
  let robotsRequests = 0;
  const log: string[] = [];
  let base = "";

  // Each tag lists its own books plus the first book of the next tag, so lists overlap.
  const booksOfTag = (t: number): FixtureBook[] => {
    const own = books.slice(t * opts.booksPerTag, (t + 1) * opts.booksPerTag);
    const next = books[((t + 1) % opts.tags) * opts.booksPerTag];
    return opts.tags > 1 ? [...own, next] : own;
  };

  const html = (body: string | Uint8Array, charset = "utf-8", status = 200) =>
    new Response(body as BodyInit, {
      status,
      headers: { "content-type": `text/html; charset=${charset}` },
    });

  const handler = async (req: Request): Promise<Response> => {
    const path = new URL(req.url).pathname;
    if (path === "/robots.txt") {
      robotsRequests++;
      return new Response("not found", { status: 404 });
    }
    const count = (requests.get(path) ?? 0) + 1;
    requests.set(path, count);
    log.push(path);
    const latencyMs = opts.latencyMs +
      Math.random() * Math.max(0, opts.latencyMaxMs - opts.latencyMs);
    if (latencyMs > 0) await new Promise((r) => setTimeout(r, latencyMs));
    if (path === "/") return html(tagPage(opts.tags));
    const tag = /^\/tag\/T(\d+)$/.exec(path);
    if (tag && Number(tag[1]) < opts.tags) return html(listPage(base, booksOfTag(Number(tag[1]))));
    const subject = /^\/subject\/(\d+)\/$/.exec(path);
    const book = subject ? byId.get(Number(subject[1])) : undefined;
    if (book) {
      if (book.failsOnce && count === 1) return html("temporarily unavailable", "utf-8", 500);
      if (!book.gbk) return html(detailPage(book, "utf-8"));
      // Half the GBK pages declare their charset only in the page's <meta>, as old sites do.
      const body = encodeGbk(detailPage(book, "gbk"));
      return book.id % 2 === 0 ? html(body, "gbk") : new Response(body as BodyInit, {
        headers: { "content-type": "text/html" },
      });
    }
    return html("not found", "utf-8", 404);
  };

  const server = Deno.serve({ hostname: "127.0.0.1", port: opts.port, onListen() {} }, handler);
  base = `http://127.0.0.1:${server.addr.port}`;
  return {
    url: base,
    books,
    requests,
    get robotsRequests() {
      return robotsRequests;
    },
    log,
    pages: 1 + opts.tags + books.length,
    close: () => server.shutdown(),
  };
}
