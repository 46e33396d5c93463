import assert from "node:assert/strict";
import { DEFAULT_USER_AGENT } from "./politeness/user_agent_token.ts";
import { hostOutcomeOf } from "./politeness/host_outcome.ts";
import { FetchError, HttpFetcher } from "./fetcher.ts";

type Handler = (req: Request) => Response | Promise<Response>;

/** A local HTTP server for one test; `await using` shuts it down. */
function serve(handler: Handler) {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  return Object.assign(server, { origin: `http://127.0.0.1:${server.addr.port}` });
}

/**
 * A body that sends `first` and then nothing until the client goes away; `cancelled` resolves
 * when it does (the server's view of an aborted download).
 */
function stalledBody(first: Uint8Array = new Uint8Array(0)) {
  const cancelled = Promise.withResolvers<void>();
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      if (first.byteLength > 0) controller.enqueue(first);
    },
    cancel() {
      cancelled.resolve();
    },
  });
  return { stream, cancelled: cancelled.promise };
}

/** Rejects if `promise` has not settled within `ms`, so a test cannot hang on it. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The GBK bytes of "豆瓣读书：你好，世界" (TextEncoder only encodes UTF-8). */
const gbkText = new Uint8Array([
  0xb6,
  0xb9,
  0xb0,
  0xea,
  0xb6,
  0xc1,
  0xca,
  0xe9,
  0xa3,
  0xba,
  0xc4,
  0xe3,
  0xba,
  0xc3,
  0xa3,
  0xac,
  0xca,
  0xc0,
  0xbd,
  0xe7,
]);

Deno.test("fetcher sends the cookie and the user agent, and reports the response", async () => {
  await using server = serve((req) =>
    Response.json({
      method: req.method,
      cookie: req.headers.get("cookie"),
      userAgent: req.headers.get("user-agent"),
    })
  );
  using fetcher = new HttpFetcher({ userAgent: () => "TestBrowser/1.0" });
  const res = await fetcher.fetch({
    url: `${server.origin}/page`,
    method: "GET",
    cookie: "bid=abc; ck=xyz",
  });
  assert.deepEqual(JSON.parse(res.body), {
    method: "GET",
    cookie: "bid=abc; ck=xyz",
    userAgent: "TestBrowser/1.0",
  });
  assert.equal(res.status, 200);
  assert.equal(res.url, `${server.origin}/page`);
  assert.equal(res.contentType, "application/json");
  assert.equal(res.bytes, new TextEncoder().encode(res.body).byteLength);
});

Deno.test("fetcher sends the crawler's own user agent and no cookie by default", async () => {
  await using server = serve((req) =>
    Response.json({ cookie: req.headers.get("cookie"), userAgent: req.headers.get("user-agent") })
  );
  using fetcher = new HttpFetcher();
  const { cookie, userAgent } = JSON.parse(
    (await fetcher.fetch({ url: server.origin, method: "GET" })).body,
  );
  assert.equal(cookie, null);
  assert.equal(userAgent, DEFAULT_USER_AGENT);
});

Deno.test("a request's own user agent wins over the fetcher's (a task's random browser one)", async () => {
  await using server = serve((req) => new Response(req.headers.get("user-agent")));
  using fetcher = new HttpFetcher();
  const page = await fetcher.fetch({ url: server.origin, method: "GET", userAgent: "Browser/9" });
  assert.equal(page.body, "Browser/9");
});

Deno.test("a 429 or 503 carries its Retry-After for the host's backoff", async () => {
  await using server = serve(() =>
    new Response("slow down", { status: 429, headers: { "retry-after": "7" } })
  );
  using fetcher = new HttpFetcher();
  await assert.rejects(fetcher.fetch({ url: server.origin, method: "GET" }), (error) => {
    assert.ok(error instanceof FetchError);
    assert.equal(error.status, 429);
    assert.equal(error.retryAfter, "7");
    assert.deepEqual(hostOutcomeOf(error, 0), {
      kind: "throttled",
      status: 429,
      retryAfterMs: 7000,
    });
    return true;
  });
});

Deno.test("fetcher decodes a GBK page to UTF-8", async () => {
  await using server = serve((req) =>
    new URL(req.url).pathname === "/header"
      ? new Response(gbkText, { headers: { "content-type": "text/plain; charset=gbk" } })
      : new Response(
        new Uint8Array([...new TextEncoder().encode('<meta charset="gb2312">'), ...gbkText]),
        { headers: { "content-type": "text/html" } },
      )
  );
  using fetcher = new HttpFetcher();
  const byHeader = await fetcher.fetch({ url: `${server.origin}/header`, method: "GET" });
  assert.equal(byHeader.body, "豆瓣读书：你好，世界");
  assert.equal(byHeader.bytes, gbkText.byteLength);
  const byMeta = await fetcher.fetch({ url: `${server.origin}/meta`, method: "GET" });
  assert.equal(byMeta.body, '<meta charset="gb2312">豆瓣读书：你好，世界');
});

Deno.test("fetcher follows redirects and reports the final URL", async () => {
  await using server = serve((req) =>
    new URL(req.url).pathname === "/old"
      ? Response.redirect(new URL("/new", req.url), 302)
      : new Response("moved here")
  );
  using fetcher = new HttpFetcher();
  const res = await fetcher.fetch({ url: `${server.origin}/old`, method: "GET" });
  assert.equal(res.body, "moved here");
  assert.equal(res.url, `${server.origin}/new`);
});

Deno.test("fetcher gives up after its timeout with a retriable error", async () => {
  const release = Promise.withResolvers<void>();
  await using server = serve(async () => {
    await release.promise;
    return new Response("too late");
  });
  using fetcher = new HttpFetcher({ timeoutMs: 100 });
  const start = performance.now();
  const error = await fetcher.fetch({ url: server.origin, method: "GET" }).catch((e) => e);
  const elapsed = performance.now() - start;
  assert.ok(error instanceof FetchError, String(error));
  assert.equal(error.retriable, true);
  assert.match(error.message, /timed out after 100 ms/);
  assert.equal((error.cause as DOMException).name, "TimeoutError");
  assert.ok(elapsed >= 90 && elapsed < 2000, `timed out after ${elapsed} ms`);
  release.resolve();
});

Deno.test("fetcher times out a body that arrives too slowly", async () => {
  const body = stalledBody(new TextEncoder().encode("first part"));
  await using server = serve(() => new Response(body.stream));
  using fetcher = new HttpFetcher({ timeoutMs: 150 });
  await assert.rejects(
    fetcher.fetch({ url: server.origin, method: "GET" }),
    (e) => e instanceof FetchError && e.retriable && /timed out/.test(e.message),
  );
  await within(body.cancelled, 2000, "server sees the download dropped");
});

Deno.test("fetcher aborts promptly with the caller's reason", async () => {
  const release = Promise.withResolvers<void>();
  await using server = serve(async () => {
    await release.promise;
    return new Response("too late");
  });
  using fetcher = new HttpFetcher({ timeoutMs: 10_000 });
  const controller = new AbortController();
  const reason = new Error("task stopped");
  const start = performance.now();
  const pending = fetcher.fetch({ url: server.origin, method: "GET", signal: controller.signal });
  setTimeout(() => controller.abort(reason), 50);
  await assert.rejects(pending, (e) => e === reason);
  assert.ok(performance.now() - start < 1000);
  release.resolve();
});

Deno.test("fetcher aborts a body download with the caller's reason", async () => {
  const body = stalledBody(new Uint8Array(1000));
  await using server = serve(() => new Response(body.stream));
  using fetcher = new HttpFetcher({ timeoutMs: 10_000 });
  const controller = new AbortController();
  const reason = new Error("task stopped");
  const pending = fetcher.fetch({ url: server.origin, method: "GET", signal: controller.signal });
  setTimeout(() => controller.abort(reason), 100);
  await assert.rejects(pending, (e) => e === reason);
  await within(body.cancelled, 2000, "server sees the connection dropped");
});

Deno.test("fetcher does not start when the caller has already aborted", async () => {
  let requests = 0;
  await using server = serve(() => {
    requests++;
    return new Response("hi");
  });
  using fetcher = new HttpFetcher();
  const reason = new Error("stopped");
  await assert.rejects(
    fetcher.fetch({ url: server.origin, method: "GET", signal: AbortSignal.abort(reason) }),
    (e) => e === reason,
  );
  assert.equal(requests, 0);
});

Deno.test("fetcher stops reading an endless body past its cap", async () => {
  let chunksSent = 0;
  await using server = serve(() =>
    new Response(
      new ReadableStream<Uint8Array>({
        pull(controller) {
          chunksSent++;
          controller.enqueue(new Uint8Array(16 * 1024));
        },
      }),
    )
  );
  using fetcher = new HttpFetcher({ maxBodyBytes: 100_000, timeoutMs: 5000 });
  const error = await fetcher.fetch({ url: server.origin, method: "GET" }).catch((e) => e);
  assert.ok(error instanceof FetchError, String(error));
  assert.equal(error.retriable, false);
  assert.equal(error.status, 200);
  assert.match(error.message, /larger than 100000 bytes/);
  assert.ok(chunksSent < 1000, `server sent ${chunksSent} chunks`);
});

Deno.test("fetcher rejects a declared body over its cap without reading it", async () => {
  await using server = serve(() => new Response(new Uint8Array(200_000)));
  using fetcher = new HttpFetcher({ maxBodyBytes: 100_000 });
  await assert.rejects(
    fetcher.fetch({ url: server.origin, method: "GET" }),
    (e) => e instanceof FetchError && !e.retriable && /larger than/.test(e.message),
  );
});

Deno.test("fetcher accepts a body exactly at its cap", async () => {
  await using server = serve(() => new Response(new Uint8Array(100_000)));
  using fetcher = new HttpFetcher({ maxBodyBytes: 100_000 });
  assert.equal((await fetcher.fetch({ url: server.origin, method: "GET" })).bytes, 100_000);
});

Deno.test("fetcher fails on error statuses, retriable only when the server may recover", async () => {
  await using server = serve((req) => {
    const status = Number(new URL(req.url).pathname.slice(1));
    return new Response(`status ${status}`, { status });
  });
  using fetcher = new HttpFetcher();
  const cases: [status: number, retriable: boolean][] = [
    [404, false],
    [403, false],
    [503, true],
    [500, true],
    [429, true],
    [408, true],
  ];
  for (const [status, retriable] of cases) {
    const error = await fetcher.fetch({ url: `${server.origin}/${status}`, method: "GET" })
      .catch((e) => e);
    assert.ok(error instanceof FetchError, String(error));
    assert.equal(error.status, status);
    assert.equal(error.retriable, retriable, `status ${status}`);
  }
});

Deno.test("fetcher reports a refused connection as a retriable error with its cause", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  using fetcher = new HttpFetcher();
  const error = await fetcher.fetch({ url: `http://127.0.0.1:${port}/`, method: "GET" })
    .catch((e) => e);
  assert.ok(error instanceof FetchError, String(error));
  assert.equal(error.retriable, true);
  assert.equal(error.status, undefined);
  assert.ok(error.cause instanceof Error);
});

Deno.test("fetcher rejects a URL no retry can fix as not retriable", async () => {
  using fetcher = new HttpFetcher();
  for (const url of ["not a url", "ftp://127.0.0.1/file", "mailto:someone@example.com"]) {
    const error = await fetcher.fetch({ url, method: "GET" }).catch((e) => e);
    assert.ok(error instanceof FetchError, String(error));
    assert.equal(error.retriable, false, url);
  }
});

Deno.test("fetcher sends requests through its proxies in turn", async () => {
  const seen: string[] = [];
  const proxy = (name: string) =>
    serve((req) => {
      // A forward proxy gets the absolute target URL; these answer themselves.
      seen.push(`${name} ${req.method} ${req.url} ${req.headers.get("proxy-authorization")}`);
      return new Response(`via ${name}`);
    });
  await using proxyA = proxy("A");
  await using proxyB = proxy("B");
  // Nothing listens at the target: only a proxy can answer.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const target = `http://127.0.0.1:${listener.addr.port}`;
  listener.close();

  using fetcher = new HttpFetcher({
    proxies: [proxyA.origin, `http://user:secret@127.0.0.1:${proxyB.addr.port}`],
  });
  const bodies = [];
  for (let i = 0; i < 4; i++) {
    bodies.push((await fetcher.fetch({ url: `${target}/page/${i}`, method: "GET" })).body);
  }
  assert.deepEqual(bodies, ["via A", "via B", "via A", "via B"]);
  const basic = `Basic ${btoa("user:secret")}`;
  assert.deepEqual(seen, [
    `A GET ${target}/page/0 null`,
    `B GET ${target}/page/1 ${basic}`,
    `A GET ${target}/page/2 null`,
    `B GET ${target}/page/3 ${basic}`,
  ]);
});

Deno.test("fetcher rejects a cookie HTTP cannot carry as not retriable", async () => {
  using fetcher = new HttpFetcher();
  const error = await fetcher.fetch({
    url: "http://127.0.0.1:8888/",
    method: "GET",
    cookie: "a=1\r\nX-Injected: 1",
  }).catch((e) => e);
  assert.ok(error instanceof FetchError, String(error));
  assert.equal(error.retriable, false);
});

Deno.test("fetcher refuses an invalid proxy URL when it is built", () => {
  assert.throws(() => new HttpFetcher({ proxies: ["::not a url::"] }), TypeError);
});

Deno.test("fetcher cannot be used after close", async () => {
  const fetcher = new HttpFetcher({ proxies: ["http://127.0.0.1:8888"] });
  fetcher.close();
  fetcher.close(); // closing twice is harmless
  await assert.rejects(fetcher.fetch({ url: "http://127.0.0.1:8888/", method: "GET" }), /close/);
});
