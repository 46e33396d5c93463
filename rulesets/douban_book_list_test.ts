import assert from "node:assert/strict";
import { ParseContext } from "../spider/parse_context.ts";
import { toRequest } from "../frontier/crawl_request.ts";
import { doubanBookList } from "./douban_book_list.ts";

const rules = doubanBookList.rules;
const page = (ruleName: string, url: string, body: string, tmp?: Record<string, unknown>) =>
  new ParseContext("books", toRequest({ url, ruleName, depth: 1, tmp }), body);

Deno.test("数据tag follows every tag link to 书籍列表 and never builds a DOM", async () => {
  const ctx = page(
    "数据tag",
    "https://book.douban.com",
    `<td><a href="/tag/小说" class="tag">小说</a></td><td><a href="/tag/随笔" class="tag">随笔</a></td>
     <a href="/other">not a tag</a>`,
  );
  const result = await rules["数据tag"].parse(ctx);
  assert.deepEqual(result.requests?.map((r) => [r.url, r.ruleName, r.depth]), [
    ["https://book.douban.com/tag/%E5%B0%8F%E8%AF%B4", "书籍列表", 2],
    ["https://book.douban.com/tag/%E9%9A%8F%E7%AC%94", "书籍列表", 2],
  ]);
  assert.equal(ctx.hasDocument, false);
});

Deno.test("书籍列表 queues each book as a priority request carrying its name", async () => {
  const ctx = page(
    "书籍列表",
    "https://book.douban.com/tag/小说",
    `<a class="nbg" href="https://book.douban.com/subject/1/" onclick="x"><img src="a.jpg"></a>
     <h2><a href="https://book.douban.com/subject/1/" title="活着" onclick="x">活着</a></h2>
     <h2><a href="https://book.douban.com/subject/2/" title="三体" onclick="x">三体</a></h2>`,
  );
  const result = await rules["书籍列表"].parse(ctx);
  assert.deepEqual(
    result.requests?.map((r) => [r.url, r.ruleName, r.priority, r.tmp?.book_name]),
    [
      ["https://book.douban.com/subject/1/", "书籍简介", 100, "活着"],
      ["https://book.douban.com/subject/2/", "书籍简介", 100, "三体"],
    ],
  );
});

Deno.test("书籍简介 extracts the Go project's seven fields with its regular expressions", async () => {
  const body = `<div id="info"><span><span class="pl"> 作者</span>:
    <a class="" href="/search/余华">余华</a></span><br/>
    <span class="pl">出版社:</span>
    <a href="/press/1">作家出版社</a><br>
    <span class="pl">页数:</span> 191<br/>
    <span class="pl">定价:</span> 20.00元<br/></div>
    <strong class="ll rating_num " property="v:average"> 9.4 </strong>
    <div class="intro">
    <p>地主少爷福贵嗜赌成性。</p></div>`;
  const ctx = page("书籍简介", "https://book.douban.com/subject/1/", body, { book_name: "活着" });
  const result = await rules["书籍简介"].parse(ctx);
  assert.equal(result.items?.length, 1);
  const item = result.items![0];
  assert.deepEqual(item.data, {
    "书名": "活着",
    "作者": "余华",
    "页数": 191,
    "出版社": "作家出版社",
    "得分": " 9.4 ",
    "价格": " 20.00元",
    "简介": "地主少爷福贵嗜赌成性。",
  });
  assert.equal(item.task, "books");
  assert.equal(item.rule, "书籍简介");
  assert.equal(item.url, "https://book.douban.com/subject/1/");
  assert.deepEqual(rules["书籍简介"].itemFields, [
    "书名",
    "作者",
    "页数",
    "出版社",
    "得分",
    "价格",
    "简介",
  ]);
});

Deno.test("书籍简介 leaves missing fields empty and an unparsable page count 0, as Go did", async () => {
  const ctx = page(
    "书籍简介",
    "https://book.douban.com/subject/9/",
    `<span class="pl">页数:</span> many<br/>`,
  );
  const item = (await rules["书籍简介"].parse(ctx)).items![0];
  assert.equal(item.data["页数"], 0);
  assert.equal(item.data["作者"], "");
  assert.equal(item.data["书名"], null);
});

Deno.test("douban_book_list starts from its base URL, which a task can override", () => {
  assert.deepEqual(doubanBookList.root({ url: "http://127.0.0.1:8088/a" }), [
    { url: "http://127.0.0.1:8088/a", priority: 1, method: "GET", ruleName: "数据tag" },
  ]);
});
