/**
 * @module
 * The Go project's douban group task: list a group's discussions (解析网站URL), then keep the
 * topics whose content mentions 阳台 ("balcony"; 解析阳台房). A match is output as an item
 * with no fields: its row holds the topic's URL and time.
 */
import type { ParseContext } from "../spider/parse_context.ts";
import type { CrawlRequest } from "../frontier/crawl_request.ts";
import type { RuleSet } from "../spider/rule_set.ts";

const contentRe = /<div class="topic-content">[\s\S]*?阳台[\s\S]*?<div class="aside">/;

/** The Go project's urlListRe, for topics on the origin of the task's base URL. */
function topicLinkRe(origin: string): RegExp {
  const escaped = origin.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`(${escaped}/group/topic/[0-9a-z]+/)"[^>]*>([^<]+)</a>`, "g");
}

function parseURL(ctx: ParseContext) {
  const requests: CrawlRequest[] = [];
  for (const m of ctx.body.matchAll(topicLinkRe(new URL(ctx.req.url).origin))) {
    const req = ctx.follow(m[1], "解析阳台房");
    if (req) requests.push(req);
  }
  return { requests };
}

function getSunRoom(ctx: ParseContext) {
  return { items: contentRe.test(ctx.body) ? [ctx.output({})] : [] };
}

/** The douban group rule set; `url` defaults to the szsh group's first discussion page. */
export const findDoubanSunRoom: RuleSet = {
  name: "find_douban_sun_room",
  defaults: { url: "https://www.douban.com/group/szsh/discussion?start=0", maxDepth: 5 },
  root: ({ url }) => [{ url, priority: 1, method: "GET", ruleName: "解析网站URL" }],
  rules: {
    "解析网站URL": { parse: parseURL },
    "解析阳台房": { itemFields: [], parse: getSunRoom },
  },
};
