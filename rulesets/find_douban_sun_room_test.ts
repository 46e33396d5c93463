import assert from "node:assert/strict";
import { ParseContext } from "../spider/parse_context.ts";
import { toRequest } from "../frontier/crawl_request.ts";
import { findDoubanSunRoom } from "./find_douban_sun_room.ts";

Deno.test("解析网站URL follows topic links on the group's own host only", async () => {
  const ctx = new ParseContext(
    "sun",
    toRequest({
      url: "https://www.douban.com/group/szsh/discussion?start=0",
      ruleName: "解析网站URL",
    }),
    `<td class="title"><a href="https://www.douban.com/group/topic/27/" title="x" class="">南山 阳台房</a></td>
     <td class="title"><a href="https://evil.example/group/topic/28/" class="">elsewhere</a></td>`,
  );
  const result = await findDoubanSunRoom.rules["解析网站URL"].parse(ctx);
  assert.deepEqual(result.requests?.map((r) => [r.url, r.ruleName]), [
    ["https://www.douban.com/group/topic/27/", "解析阳台房"],
  ]);
});

Deno.test("解析阳台房 outputs the topic when its content mentions 阳台, else nothing", async () => {
  const parse = findDoubanSunRoom.rules["解析阳台房"].parse;
  const at = (body: string) =>
    new ParseContext(
      "sun",
      toRequest({ url: "https://www.douban.com/group/topic/27/", ruleName: "解析阳台房" }),
      body,
    );
  const hit = await parse(
    at(`<div class="topic-content"><p>带阳台的主卧</p></div><div class="aside">`),
  );
  assert.equal(hit.items?.length, 1);
  assert.equal(hit.items![0].url, "https://www.douban.com/group/topic/27/");
  const miss = await parse(at(`<div class="topic-content"><p>朝北</p></div><div class="aside">`));
  assert.deepEqual(miss.items, []);
});
