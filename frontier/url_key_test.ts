import assert from "node:assert/strict";
import { urlHost, urlKey } from "./url_key.ts";

Deno.test("urlKey treats spellings of one page as one key", () => {
  const same = [
    "http://example.com/b?a=2&z=1",
    "HTTP://Example.COM:80/b?z=1&a=2",
    "http://example.com/a/../b?z=1&a=2#section",
    "http://example.com/%62?a=2&z=1",
  ];
  for (const url of same) assert.equal(urlKey(url), "http://example.com/b?a=2&z=1", url);
  assert.equal(urlKey("http://example.com"), "http://example.com/");
  assert.equal(urlKey("http://example.com/x?"), "http://example.com/x");
  assert.equal(urlKey("http://example.com/a%2fb"), "http://example.com/a%2Fb");
});

Deno.test("urlKey keeps what can change the page apart", () => {
  assert.notEqual(urlKey("http://example.com/a"), urlKey("http://example.com/a/"));
  assert.notEqual(urlKey("http://example.com/a?x=1"), urlKey("http://example.com/a?x=2"));
  assert.notEqual(urlKey("https://example.com/"), urlKey("http://example.com/"));
  assert.notEqual(urlKey("http://example.com:8080/"), urlKey("http://example.com/"));
  // Repeated parameters keep their order: some servers read only the first.
  assert.notEqual(urlKey("http://e.com/?a=1&a=2"), urlKey("http://e.com/?a=2&a=1"));
  assert.equal(urlKey("http://e.com/form", "POST"), "POST http://e.com/form");
  assert.equal(urlKey("not a url"), "not a url");
});

Deno.test("urlHost is the host and port a request goes to", () => {
  assert.equal(urlHost("http://Example.com:8080/x"), "http://example.com:8080");
  assert.equal(urlHost("https://example.com/x"), "https://example.com:443");
  assert.equal(urlHost("nope"), "");
});
