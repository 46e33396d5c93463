import assert from "node:assert/strict";
import { SentLinks } from "./_sent_links.ts";

Deno.test("a link is new once, whether given whole or as origin and path", () => {
  const sent = new SentLinks();
  assert.ok(sent.addJoined("http://h.test", "/a"));
  assert.ok(!sent.add("http://h.test/a"));
  assert.ok(sent.add("http://h.test/b"));
  assert.ok(!sent.addJoined("http://h.test", "/b"));
  assert.ok(sent.addJoined("http://other.test", "/a"), "another origin, another link");
  assert.ok(!sent.addJoined("http://h.test", "/a"), "the origin's hash is recomputed");
  assert.equal(sent.size, 3);
});

Deno.test("sent links grow past their first table and stop remembering at maxSize", () => {
  const sent = new SentLinks({ maxSize: 5000 });
  for (let i = 0; i < 5000; i++) assert.ok(sent.add(`http://h.test/${i}`));
  for (let i = 0; i < 5000; i++) assert.ok(!sent.addJoined("http://h.test", `/${i}`));
  // Full: new links still count as new (so they are sent), they are just not remembered.
  assert.ok(sent.add("http://h.test/late"));
  assert.ok(sent.add("http://h.test/late"));
  assert.equal(sent.size, 5000);
});
