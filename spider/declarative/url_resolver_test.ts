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
  "../../up/two.html",
  "../../../../above/root",
  "./here.html",
  "././x",
  "..",
  ".",
  "../",
  "./",
  "x/../y",
  "x/./y",
  "..x/y",
  ".x",
  "page.html?x=1",
  "a:b/c",
  "a/b:c",
  "a?b:c",
  "#",
  "?",
  "?a=1#b",
  "sub/dir/",
  "%41.html",
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
      "http://127.0.0.1:8080/a/b/c/d.html?q=1",
      "http://127.0.0.1:8080/",
      "http://127.0.0.1:8080",
      "http://127.0.0.1:8080/dir/%7Euser/x",
      "http://127.0.0.1:8080/a/b/",
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

Deno.test("relative, query-only and fragment-only links are joined without the URL parser", () => {
  const resolver = new UrlResolver("http://127.0.0.1:8080/docs/guide/page.html?v=2");
  assert.equal(resolver.resolveLocal("next.html"), "http://127.0.0.1:8080/docs/guide/next.html");
  assert.equal(resolver.resolveLocal("../api/x.html#a"), "http://127.0.0.1:8080/docs/api/x.html");
  assert.equal(resolver.resolveLocal("./a/b"), "http://127.0.0.1:8080/docs/guide/a/b");
  assert.equal(resolver.resolveLocal("#top"), "http://127.0.0.1:8080/docs/guide/page.html?v=2");
  assert.equal(resolver.resolveLocal("?v=3"), "http://127.0.0.1:8080/docs/guide/page.html?v=3");
  // Left to the parser: a scheme, a dot segment it must remove, a character it must encode.
  assert.equal(resolver.resolveLocal("mailto:a@b"), undefined);
  assert.equal(resolver.resolveLocal("a/../b"), undefined);
  assert.equal(resolver.resolveLocal("a b"), undefined);
});

Deno.test("links certainly to another host are told without the parser, and only those", () => {
  const hrefs = [
    "https://example.com/a",
    "http://example.com",
    "http://cdn.example.com:8080/x?y#z",
    "http://127.0.0.1:8080/same",
    "https://127.0.0.1:8080/same-host-other-scheme",
    "http://127.1:8080/ipv4-shorthand",
    "http://0x7f.0.0.1:8080/hex",
    "HTTP://EXAMPLE.com/upper",
    "http://example.com:80/default-port",
    "http://user@example.com/",
    "http://xn--nxasmq6b.com/",
    "http://example.com:99999/bad-port",
    "/local",
    "relative.html",
  ];
  for (const base of ["http://127.0.0.1:8080/dir/page.html", "http://example.com/a/"]) {
    const resolver = new UrlResolver(base);
    for (const href of hrefs) {
      if (!resolver.elsewhere(href)) continue;
      const url = reference(href, base);
      assert.ok(url === undefined || !resolver.sameHost(url), `${href} on ${base}`);
    }
  }
  const resolver = new UrlResolver("http://127.0.0.1:8080/dir/page.html");
  assert.equal(resolver.elsewhere("https://example.com/a"), true);
  assert.equal(resolver.elsewhere("http://127.0.0.1:8080/same"), false);
  assert.equal(resolver.elsewhere("http://127.1:8080/x"), false, "the parser decides");
  const named = new UrlResolver("http://example.com/a/");
  assert.equal(named.elsewhere("http://example.com:80/x"), false);
  assert.equal(named.elsewhere("https://example.com/x"), false, "same host, other scheme");
  assert.equal(named.elsewhere("http://example.com:8080/x"), true);
});
