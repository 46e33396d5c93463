/**
 * @module
 * The Go project's `douban_book_list` task, ported rule for rule: tag page (数据tag) → book
 * lists (书籍列表) → book details (书籍简介), with the same regular expressions and item fields.
 */
import type { ParseContext } from "../spider/parse_context.ts";
import type { CrawlRequest } from "../frontier/crawl_request.ts";
import type { RuleSet } from "../spider/rule_set.ts";

const tagRe = /<a href="([^"]+)" class="tag">([^<]+)<\/a>/g;
const bookListRe = /<a.*?href="([^"]+)" title="([^"]+)"/g;
const authorRe = /<span class="pl"> 作者<\/span>:[\d\D]*?<a.*?>([^<]+)<\/a>/;
const publisherRe = /<span class="pl">出版社:<\/span>[\d\D]*?<a.*?>([^<]+)<\/a>/;
const pageRe = /<span class="pl">页数:<\/span> ([^<]+)<br\/>/;
const priceRe = /<span class="pl">定价:<\/span>([^<]+)<br\/>/;
const scoreRe = /<strong class="ll rating_num " property="v:average">([^<]+)<\/strong>/;
const introRe = /<div class="intro">[\d\D]*?<p>([^<]+)<\/p><\/div>/;

/** The first capture group of `re` in `body`, or "" (the Go project's ExtraString). */
export function extraString(body: string, re: RegExp): string {
  return re.exec(body)?.[1] ?? "";
}

/** Go's strconv.Atoi as the Go task used it: the whole string must be an integer, else 0. */
function atoi(text: string): number {
  return /^[+-]?\d+$/.test(text) ? Number.parseInt(text, 10) : 0;
}

function parseTag(ctx: ParseContext) {
  const requests: CrawlRequest[] = [];
  for (const m of ctx.body.matchAll(tagRe)) {
    const req = ctx.follow(m[1], "书籍列表");
    if (req) requests.push(req);
  }
  return { requests };
}

function parseBookList(ctx: ParseContext) {
  const requests: CrawlRequest[] = [];
  for (const m of ctx.body.matchAll(bookListRe)) {
    const req = ctx.follow(m[1], "书籍简介", { priority: 100, tmp: { book_name: m[2] } });
    if (req) requests.push(req);
  }
  return { requests };
}

function parseBookDetail(ctx: ParseContext) {
  const body = ctx.body;
  const book = {
    "书名": ctx.req.tmp?.book_name ?? null,
    "作者": extraString(body, authorRe),
    "页数": atoi(extraString(body, pageRe)),
    "出版社": extraString(body, publisherRe),
    "得分": extraString(body, scoreRe),
    "价格": extraString(body, priceRe),
    "简介": extraString(body, introRe),
  };
  return { items: [ctx.output(book)] };
}

/** The douban book rule set; `url` defaults to https://book.douban.com. */
export const doubanBookList: RuleSet = {
  name: "douban_book_list",
  defaults: {
    url: "https://book.douban.com",
    waitTime: 2,
    maxDepth: 5,
    reload: true,
    limits: [{ eventCount: 1, eventDur: 3, bucket: 1 }, {
      eventCount: 20,
      eventDur: 60,
      bucket: 20,
    }],
  },
  root: ({ url }) => [{ url, priority: 1, method: "GET", ruleName: "数据tag" }],
  rules: {
    "数据tag": { parse: parseTag },
    "书籍列表": { parse: parseBookList },
    "书籍简介": {
      itemFields: ["书名", "作者", "页数", "出版社", "得分", "价格", "简介"],
      parse: parseBookDetail,
    },
  },
};
