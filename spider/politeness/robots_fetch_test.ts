import assert from "node:assert/strict";
import { fetchRobots } from "./robots_fetch.ts";
import { RobotsRules } from "./robots_rules.ts";

/** A real server on a free loopback port answering robots.txt paths with `handler`. */
async function withServer(
  handler: (req: Request) => Response | Promise<Response>,
  fn: (origin: string, seen: string[]) => Promise<void>,
): Promise<void> {
  const seen: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    seen.push(`${new URL(req.url).pathname} ${req.headers.get("user-agent")}`);
    return handler(req);
  });
  try {
    await fn(`http://127.0.0.1:${server.addr.port}`, seen);
  } finally {
    await server.shutdown();
  }
}

const ua = "crawler/0.1.0 (+https://x.test)";

Deno.test("robots fetch: a 200 is parsed, sent with our user agent", async () => {
  await withServer(() => new Response("User-agent: *\nDisallow: /no\n"), async (origin, seen) => {
    const result = await fetchRobots(origin, { userAgent: ua });
    assert.equal(result.outcome, "parsed");
    assert.deepEqual(seen, [`/robots.txt ${ua}`]);
    const rules = RobotsRules.from(result.outcome, origin, result.text);
    assert.equal(rules.isAllowed(`${origin}/no`, "crawler"), false);
  });
});

Deno.test("robots fetch: 4xx allows all, 5xx and 429 block the host", async () => {
  for (
    const [status, outcome] of [[404, "allow-all"], [403, "allow-all"], [500, "disallow-all"], [
      503,
      "disallow-all",
    ], [429, "disallow-all"]] as const
  ) {
    await withServer(() => new Response("x", { status }), async (origin) => {
      const result = await fetchRobots(origin, { userAgent: ua });
      assert.equal(result.outcome, outcome, `status ${status}`);
      assert.equal(result.status, status);
    });
  }
});

Deno.test("robots fetch: an unreachable host is blocked", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const result = await fetchRobots(`http://127.0.0.1:${port}`, { userAgent: ua });
  assert.equal(result.outcome, "disallow-all");
  assert.ok(result.reason);
});

Deno.test("robots fetch: up to five redirects are followed, more allow all", async () => {
  const hops = (n: number) => (req: Request) => {
    const path = new URL(req.url).pathname;
    const i = Number(path.match(/^\/r(\d+)$/)?.[1] ?? 0);
    if (path === "/robots.txt") return Response.redirect(new URL("/r1", req.url), 301);
    if (i < n) return Response.redirect(new URL(`/r${i + 1}`, req.url), 302);
    return new Response("User-agent: *\nDisallow: /\n");
  };
  await withServer(hops(5), async (origin, seen) => {
    const result = await fetchRobots(origin, { userAgent: ua });
    assert.equal(result.outcome, "parsed");
    assert.equal(seen.length, 6);
  });
  await withServer(hops(6), async (origin) => {
    assert.equal((await fetchRobots(origin, { userAgent: ua })).outcome, "allow-all");
  });
});

Deno.test("robots fetch: a body over the limit is cut at the last whole line", async () => {
  const filler = "# padding padding padding padding\n".repeat(20_000); // ~680 KB
  const body = `User-agent: *\nDisallow: /a\n${filler}Allow: /private-area\n`;
  await withServer(() => new Response(body), async (origin) => {
    const result = await fetchRobots(origin, { userAgent: ua });
    assert.equal(result.outcome, "parsed");
    assert.ok(result.text.length <= 500 * 1024);
    assert.ok(result.text.endsWith("\n"));
    assert.ok(!result.text.includes("Allow"));
    const rules = RobotsRules.from(result.outcome, origin, result.text);
    assert.equal(rules.isAllowed(`${origin}/a`, "crawler"), false);
  });
});

Deno.test("robots fetch: aborting the caller's signal rejects", async () => {
  await withServer(
    () => new Promise<Response>((resolve) => setTimeout(() => resolve(new Response("")), 200)),
    async (origin) => {
      const controller = new AbortController();
      const pending = fetchRobots(origin, { userAgent: ua, signal: controller.signal });
      controller.abort(new Error("stop"));
      await assert.rejects(pending, /stop/);
    },
  );
});
