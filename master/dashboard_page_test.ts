import assert from "node:assert/strict";
import { DASHBOARD_EXAMPLE_SPEC, dashboardPage } from "./dashboard_page.ts";
import { dashboardApiClient } from "./_testing.ts";

Deno.test("the dashboard page is self-contained and its script parses", () => {
  const page = dashboardPage();
  // Nothing is loaded from elsewhere: no external script, style, font or image.
  assert.doesNotMatch(page, /<(script|link|img)[^>]+(src|href)=/i);
  const script = page.match(/<script>([\s\S]*)<\/script>/)?.[1];
  assert.ok(script, "the page has its script inline");
  // Escapes inside the TypeScript template literal are easy to get wrong: parse what is served.
  new Function(script);
  const example = page.match(/<textarea[^>]*>([\s\S]*?)<\/textarea>/)?.[1] ?? "";
  assert.deepEqual(
    JSON.parse(example.replaceAll("&lt;", "<").replaceAll("&amp;", "&")),
    DASHBOARD_EXAMPLE_SPEC,
  );
});

Deno.test("the dashboard sends each write with one Idempotency-Key and retries a 503 or no answer with it", async () => {
  const calls: Array<{ method: string; key: string | null; auth: string | null }> = [];
  const answers: Array<() => Response> = [
    () => {
      throw new TypeError("connection reset");
    },
    () => Response.json({ error: "the leader did not answer" }, { status: 503 }),
    () => Response.json({ id: "w1", Address: "127.0.0.1:9090" }),
    () => Response.json({ error: 'resource "a" already exists' }, { status: 409 }),
    () => Response.json({ resources: [] }),
  ];
  const api = dashboardApiClient((_path, init) => {
    const headers = new Headers(init.headers);
    calls.push({
      method: String(init.method),
      key: headers.get("idempotency-key"),
      auth: headers.get("authorization"),
    });
    return Promise.resolve().then(() => answers.shift()!());
  }, { token: "secret" });
  assert.deepEqual(await api("POST", "/crawler/resource", '{"name":"a"}'), {
    id: "w1",
    Address: "127.0.0.1:9090",
  });
  assert.equal(calls.length, 3);
  assert.match(calls[0].key ?? "", /^[0-9a-f]{32}$/);
  assert.ok(calls.every((c) => c.key === calls[0].key), "every try of the write has its key");
  assert.equal(calls[0].auth, "Bearer secret");
  // A refusal is an answer: not retried. Another write gets another key; a read none.
  await assert.rejects(api("POST", "/crawler/resource", '{"name":"a"}'), /already exists/);
  assert.equal(calls.length, 4);
  assert.notEqual(calls[3].key, calls[0].key);
  await api("GET", "/crawler/resource");
  assert.equal(calls[4].key, null);
});
