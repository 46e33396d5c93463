import assert from "node:assert/strict";
import { decodeBody, detectCharset } from "./charset.ts";

/** Every GBK character and its two bytes, found by running TextDecoder over all byte pairs. */
const gbkTable: ReadonlyMap<string, readonly [number, number]> = (() => {
  const table = new Map<string, [number, number]>();
  const decoder = new TextDecoder("gb18030");
  for (let lead = 0x81; lead <= 0xfe; lead++) {
    for (let trail = 0x40; trail <= 0xfe; trail++) {
      if (trail === 0x7f) continue;
      const char = decoder.decode(new Uint8Array([lead, trail]));
      if (!table.has(char)) table.set(char, [lead, trail]);
    }
  }
  return table;
})();

/** Encodes text to GBK (TextEncoder only encodes UTF-8). */
function encodeGbk(text: string): Uint8Array {
  const out: number[] = [];
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (code < 0x80) out.push(code);
    else {
      const pair = gbkTable.get(char);
      if (!pair) throw new Error(`no GBK code for ${char}`);
      out.push(...pair);
    }
  }
  return new Uint8Array(out);
}

const utf8 = (text: string) => new TextEncoder().encode(text);
const concat = (...parts: Uint8Array[]) => new Uint8Array(parts.flatMap((p) => [...p]));

const chinesePage =
  "<html><body><h1>豆瓣读书 Top 250</h1><p>你好，世界！作者：鲁迅</p></body></html>";

Deno.test("charset decodes UTF-8 with and without a declaration", () => {
  assert.equal(decodeBody(utf8(chinesePage), "text/html; charset=utf-8"), chinesePage);
  assert.equal(decodeBody(utf8(chinesePage), "text/html"), chinesePage);
  assert.equal(decodeBody(utf8(chinesePage)), chinesePage);
  assert.deepEqual(detectCharset(utf8(chinesePage), null), {
    encoding: "utf-8",
    source: "default",
  });
});

Deno.test("charset decodes GBK named by the Content-Type header", () => {
  for (const label of ["gbk", "GBK", "gb2312", "GB2312", '"gbk"', "x-gbk", "cp936"]) {
    const bytes = encodeGbk(chinesePage);
    assert.equal(decodeBody(bytes, `text/html; charset=${label}`), chinesePage, label);
    assert.deepEqual(detectCharset(bytes, `text/html;charset=${label}`), {
      encoding: "gb18030",
      source: "header",
    });
  }
});

Deno.test("charset decodes GBK declared only by a meta tag", () => {
  const metaCharset = `<html><head><meta charset="gbk"><title>书籍</title></head>${chinesePage}`;
  assert.equal(decodeBody(encodeGbk(metaCharset), "text/html"), metaCharset);

  const httpEquiv = `<!DOCTYPE html><html><head>
<meta name="viewport" content="width=device-width">
<meta http-equiv="Content-Type" content="text/html; charset=gb2312" />
<title>书籍</title></head>${chinesePage}`;
  assert.equal(decodeBody(encodeGbk(httpEquiv)), httpEquiv);
  assert.equal(detectCharset(encodeGbk(httpEquiv)).source, "meta");

  const xml = `<?xml version="1.0" encoding="GBK"?><rss><title>读书</title></rss>`;
  assert.equal(decodeBody(encodeGbk(xml), "application/xml"), xml);
});

Deno.test("charset header wins over a meta tag", () => {
  const page = `<meta charset="gbk">${chinesePage}`;
  assert.equal(decodeBody(utf8(page), "text/html; charset=UTF-8"), page);
});

Deno.test("charset ignores a meta tag inside a comment or past the first 2 KB", () => {
  const commented = `<!-- <meta charset="windows-1251"> -->${chinesePage}`;
  assert.equal(decodeBody(utf8(commented)), commented);
  const late = `<html>${" ".repeat(3000)}<meta charset="windows-1251">${chinesePage}`;
  assert.equal(decodeBody(utf8(late)), late);
});

Deno.test("charset decodes gb18030 four-byte sequences", () => {
  // "😀€" in gb18030: the emoji needs a four-byte sequence GBK does not have.
  const bytes = concat(encodeGbk("表情："), new Uint8Array([0x94, 0x39, 0xfc, 0x36, 0xa2, 0xe3]));
  assert.equal(decodeBody(bytes, "text/plain; charset=GB18030"), "表情：😀€");
});

Deno.test("charset sniffs undeclared GBK as gb18030", () => {
  const bytes = encodeGbk(chinesePage);
  assert.deepEqual(detectCharset(bytes, "text/html"), { encoding: "gb18030", source: "sniff" });
  assert.equal(decodeBody(bytes, "text/html"), chinesePage);
});

Deno.test("charset does not take undeclared Latin-1 for GBK", () => {
  const latin1 = new Uint8Array([...utf8("caf"), 0xe9, ...utf8(" cr"), 0xe8, ...utf8("me")]);
  assert.equal(detectCharset(latin1).encoding, "utf-8");
  assert.equal(decodeBody(latin1), "caf\ufffd cr\ufffdme");
});

Deno.test("charset follows a byte-order mark, and strips it", () => {
  const withBom = concat(new Uint8Array([0xef, 0xbb, 0xbf]), utf8(chinesePage));
  assert.equal(decodeBody(withBom, "text/html; charset=gbk"), chinesePage);
  const utf16le = new Uint8Array([0xff, 0xfe, 0x2d, 0x4e, 0x87, 0x65]); // "中文"
  assert.equal(decodeBody(utf16le), "中文");
  const utf16be = new Uint8Array([0xfe, 0xff, 0x4e, 0x2d, 0x65, 0x87]);
  assert.deepEqual(detectCharset(utf16be), { encoding: "utf-16be", source: "bom" });
  assert.equal(decodeBody(utf16be), "中文");
});

Deno.test("charset falls back to UTF-8 for a label it does not know, without throwing", () => {
  assert.equal(decodeBody(utf8(chinesePage), "text/html; charset=klingon-8"), chinesePage);
  const meta = `<meta charset="no-such-charset">${chinesePage}`;
  assert.equal(decodeBody(utf8(meta)), meta);
  assert.equal(decodeBody(utf8(chinesePage), "text/html; charset="), chinesePage);
  assert.equal(decodeBody(utf8(chinesePage), "text/html; charset=iso-2022-kr"), chinesePage);
  assert.equal(decodeBody(new Uint8Array([0xff, 0x41]), "text/html; charset=bogus"), "\ufffdA");
});

Deno.test("charset decodes other declared charsets through TextDecoder", () => {
  const shiftJis = new Uint8Array([0x93, 0xfa, 0x96, 0x7b]); // "日本"
  assert.equal(decodeBody(shiftJis, "text/html; charset=Shift_JIS"), "日本");
  const big5 = new Uint8Array([0xa4, 0xa4, 0xa4, 0xe5]); // "中文"
  assert.equal(decodeBody(big5, "text/html; charset=big5"), "中文");
  const latin1 = new Uint8Array([0x63, 0x61, 0x66, 0xe9]);
  assert.equal(decodeBody(latin1, "text/html; charset=ISO-8859-1"), "café");
});

Deno.test("charset decodes an empty body", () => {
  assert.equal(decodeBody(new Uint8Array(0), null), "");
});
