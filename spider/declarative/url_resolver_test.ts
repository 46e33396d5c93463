import assert from "node:assert/strict";
import { hostOf, UrlResolver } from "./url_resolver.ts";

/** What `ParseContext.resolve` does: the reference the fast paths must agree with. */
function reference(href: string, base: string): string | undefined {
  try {
    const url = new URL(href, base);
    if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
    url.hash = "";
    return url.href;
  } catch {
    return undefined;
  }
}

const HREFS = [
  "/a/b.html",
  "/a/b?x=1&y=2",
  "/a/b?x=1#frag",
  "#top",
  "",
  "/",
  "//other.test/x",
  "/a/./b",
  "/a/../b",
  "/a/..",
  "/a/%2e%2e/b",
  "/a b",
  "/a\tb",
  "/é",
  "/a?q='x'",
  "/a|b",
  "\\a",
  "/\\a",
  "relative/path",
  "../up",
  "?only=query",
  "http://127.0.0.1:8080/abs",
  "http://127.0.0.1:8080/abs/../x",
  "HTTP://127.0.0.1:8080/upper",
  "http://127.0.0.1:80801/not-same",
  "http://other.test/x",
  "https://127.0.0.1:8080/tls",
  "mailto:x@y.test",
  "javascript:void(0)",
  "http://[::1",
  " /padded ",
];

Deno.test("resolving links agrees with the URL parser, fast path or not", () => {
  for (
    const base of [
      "http://127.0.0.1:8080/dir/page.html",
      "https://Example.TEST/a/",
      "http://user:pw@h.test/",
    ]
  ) {
    const resolver = new UrlResolver(base);
    for (const href of HREFS) {
      assert.equal(resolver.resolve(href), reference(href, base), `${href} on ${base}`);
      const local = resolver.resolveLocal(href);
      if (local !== undefined) assert.equal(local, reference(href, base), `local ${href}`);
    }
  }
});

Deno.test("same-host checks compare host and port, not scheme or path", () => {
  const resolver = new UrlResolver("http://127.0.0.1:8080/dir/");
  assert.ok(resolver.sameHost("http://127.0.0.1:8080/x"));
  assert.ok(resolver.sameHost("https://127.0.0.1:8080/x"));
  assert.ok(!resolver.sameHost("http://127.0.0.1:8081/x"));
  assert.ok(!resolver.sameHost("http://127.0.0.1/x"));
  assert.equal(hostOf("http://u:p@h.test:9/a/b"), "h.test:9");
});
