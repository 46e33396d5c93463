import assert from "node:assert/strict";
import { parseHTML } from "linkedom";
import { decodeEntities, scanAnchorHrefs } from "./link_scan.ts";

Deno.test("the anchor scan finds what a DOM's a[href] query finds", () => {
  const html = `<html><head><script>var s = "<a href='/in-script'>";</script>
<style>a[href="/in-style"] {}</style></head><body>
<!-- <a href="/in-comment"> -->
<a href="/double">1</a> <a href='/single'>2</a> <a href=/bare>3</a>
<a\nclass="x"\nhref="/newlines">5</a>
<a title="a > b" href="/after-gt">6</a> <a data-href="/no" href="/yes">7</a>
<a title='has href="/no2"' href="/quoted">8</a> <a name="no-href">9</a>
<abbr href="/not-a">10</abbr> <a href="/q?a=1&amp;b=2&#38;c=3">11</a> <a href="">12</a>
</body></html>`;
  const { document } = parseHTML(html) as unknown as {
    document: { querySelectorAll(s: string): Iterable<{ getAttribute(n: string): string }> };
  };
  const fromDom = [...document.querySelectorAll("a[href]")].map((a) => a.getAttribute("href"));
  assert.deepEqual(scanAnchorHrefs(html), fromDom);
  assert.deepEqual(fromDom, [
    "/double",
    "/single",
    "/bare",
    "/newlines",
    "/after-gt",
    "/yes",
    "/quoted",
    "/q?a=1&b=2&c=3",
    "",
  ]);
});

Deno.test("the anchor scan ignores case in tag and attribute names, as HTML does", () => {
  // (linkedom itself misses `HREF` in `a[href]`; browsers do not.)
  assert.deepEqual(scanAnchorHrefs('<A HREF="/upper">x</A><a Href=/mixed>'), ["/upper", "/mixed"]);
});

Deno.test("character references in hrefs are decoded; unknown ones are kept", () => {
  assert.equal(decodeEntities("/a?x=1&amp;y=&quot;2&quot;&#x41;&#66;"), '/a?x=1&y="2"AB');
  assert.equal(decodeEntities("/a?copy=&copy;&#0;"), "/a?copy=&copy;&#0;");
  assert.equal(decodeEntities("/plain"), "/plain");
});
