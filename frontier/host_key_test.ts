import assert from "node:assert/strict";
import { hostKey } from "./host_key.ts";

Deno.test("host key is scheme, host and port, default port written out", () => {
  assert.equal(hostKey("http://Example.com/a?b"), "http://example.com:80");
  assert.equal(hostKey("http://example.com:80/"), "http://example.com:80");
  assert.equal(hostKey("https://example.com/"), "https://example.com:443");
  assert.equal(hostKey("http://127.0.0.1:8088/x"), "http://127.0.0.1:8088");
  assert.notEqual(hostKey("http://a.test:81/"), hostKey("http://a.test:82/"));
});
