import assert from "node:assert/strict";
import { DEFAULT_USER_AGENT } from "./politeness/user_agent_token.ts";
import { hostOutcomeOf } from "./politeness/host_outcome.ts";
import { exhaustedResourceOf, FetchError, HttpFetcher, ResourceExhaustedError } from "./fetcher.ts";
import { waitFor } from "../tests/kit/wait.ts";

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
  await waitFor(body.cancelled, { what: "server sees the download dropped", timeoutMs: 2000 });
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
  await waitFor(body.cancelled, { what: "server sees the connection dropped", timeoutMs: 2000 });
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

Deno.test("a streamed body arrives as it is read, capped by the request's own limit", async () => {
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
  // The page cap is 10 KB; this request may have 100 KB.
  using fetcher = new HttpFetcher({ maxBodyBytes: 10_000, timeoutMs: 5000 });
  const response = await fetcher.fetch({
    url: server.origin,
    method: "GET",
    stream: true,
    maxBodyBytes: 100_000,
  });
  assert.throws(() => response.body, /asked for as a stream/);
  assert.equal(fetcher.connectionStats().inFlight, 1, "the body holds its connection");
  let read = 0;
  const error = await (async () => {
    for await (const chunk of response.stream!) read += chunk.byteLength;
  })().catch((e) => e);
  assert.ok(error instanceof FetchError, String(error));
  assert.equal(error.retriable, false);
  assert.match(error.message, /larger than 100000 bytes/);
  assert.ok(read > 10_000 && read <= 100_000, `read ${read} bytes`);
  assert.ok(chunksSent < 1000, `server sent ${chunksSent} chunks`);
  assert.equal(fetcher.connectionStats().inFlight, 0, "given back once the body failed");
});

Deno.test("a streamed body's time limit runs only while its reader waits for a chunk", async () => {
  const chunk = new Uint8Array(1000);
  await using server = serve(() => new Response(ReadableStream.from([chunk, chunk, chunk])));
  using fetcher = new HttpFetcher({ timeoutMs: 150 });
  const response = await fetcher.fetch({ url: server.origin, method: "GET", stream: true });
  let read = 0;
  for await (const piece of response.stream!) {
    read += piece.byteLength;
    // A slow reader (a parser at work) is not a slow server: the delay under test, longer than
    // the 150 ms timeout.
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  assert.equal(read, 3000);

  const body = stalledBody(new TextEncoder().encode("first part"));
  await using stalled = serve(() => new Response(body.stream));
  const waiting = await fetcher.fetch({ url: stalled.origin, method: "GET", stream: true });
  await assert.rejects(
    (async () => {
      for await (const _ of waiting.stream!) { /* read until the server stalls */ }
    })(),
    (e) => e instanceof FetchError && e.retriable && /timed out after 150 ms/.test(e.message),
  );
  await waitFor(body.cancelled, { what: "server sees the download dropped", timeoutMs: 2000 });
  assert.equal(fetcher.connectionStats().inFlight, 0);
});

Deno.test("a streamed body left unread is given back when cancelled", async () => {
  const body = stalledBody(new Uint8Array(1000));
  await using server = serve(() => new Response(body.stream));
  using fetcher = new HttpFetcher({ timeoutMs: 10_000 });
  const response = await fetcher.fetch({ url: server.origin, method: "GET", stream: true });
  await response.stream!.cancel();
  assert.equal(fetcher.connectionStats().inFlight, 0);
  await waitFor(body.cancelled, { what: "server sees the download dropped", timeoutMs: 2000 });
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

Deno.test("a fetch waiting for a connection is given up when the caller aborts", async () => {
  const release = Promise.withResolvers<void>();
  let requests = 0;
  await using server = serve(async () => {
    requests++;
    await release.promise;
    return new Response("slow");
  });
  using fetcher = new HttpFetcher({ maxConnections: 1, timeoutMs: 10_000 });
  const first = fetcher.fetch({ url: `${server.origin}/first`, method: "GET" });
  await waitFor(() => requests === 1, { what: "the first request reached the server" });
  const controller = new AbortController();
  const reason = new Error("task stopped");
  const waiting = fetcher.fetch({
    url: `http://localhost:${server.addr.port}/second`,
    method: "GET",
    signal: controller.signal,
  });
  assert.equal(fetcher.connectionStats().waiting, 1);
  controller.abort(reason);
  await assert.rejects(waiting, (e) => e === reason);
  assert.equal(fetcher.connectionStats().waiting, 0);
  release.resolve();
  assert.equal((await first).body, "slow");
  assert.equal(requests, 1, "the aborted fetch never reached the server");
});

/** Deno's fetch error when the process is out of file descriptors (seen under `ulimit -n 64`). */
function emfile(url: string): TypeError {
  return new TypeError("fetch failed", {
    cause: new Error(
      `error sending request for url (${url}): client error (Connect): tcp open error: ` +
        "Too many open files (os error 24)",
    ),
  });
}

Deno.test("running out of file descriptors is a retriable ResourceExhaustedError that sheds idle connections", async () => {
  const fetchFn = (input: string | URL | Request) => {
    const url = String(input);
    return Promise.resolve().then(() => {
      if (url.includes("full.test")) throw emfile(url);
      return new Response("fine");
    });
  };
  using fetcher = new HttpFetcher({ fetch: fetchFn as typeof fetch });
  await fetcher.fetch({ url: "http://a.test/", method: "GET" });
  await fetcher.fetch({ url: "http://b.test/", method: "GET" });
  assert.equal(fetcher.connectionStats().clients, 2);

  const error = await fetcher.fetch({ url: "http://full.test/", method: "GET" }).catch((e) => e);
  assert.ok(error instanceof ResourceExhaustedError, String(error));
  assert.ok(error instanceof FetchError);
  assert.equal(error.retriable, true);
  assert.equal(error.resource, "file descriptors");
  assert.ok(error.cause instanceof TypeError);
  assert.match(error.message, /out of file descriptors.*Too many open files/);
  assert.equal(fetcher.connectionStats().clients, 0, "idle connections shed");

  // robots.txt fetches through the fetcher are classified and shed the same way.
  await fetcher.fetch({ url: "http://a.test/", method: "GET" });
  const robots = fetcher.fetchFunction();
  await assert.rejects(
    robots("http://full.test/robots.txt"),
    (e) => e instanceof ResourceExhaustedError && e.resource === "file descriptors",
  );
  const { clients, inFlight, charged } = fetcher.connectionStats();
  assert.deepEqual({ clients, inFlight, charged }, { clients: 0, inFlight: 0, charged: 0 });
});

Deno.test("exhausted resources are told from the runtime's errors, other errors are not", () => {
  const coded = (message: string, code: string) => Object.assign(new Error(message), { code });
  assert.equal(exhaustedResourceOf(emfile("http://a.test/")), "file descriptors");
  assert.equal(
    exhaustedResourceOf(coded("Too many open files in system (os error 23)", "ENFILE")),
    "file descriptors",
  );
  assert.equal(exhaustedResourceOf(coded("open '/x' failed", "EMFILE")), "file descriptors");
  assert.equal(
    exhaustedResourceOf(
      new Error("tcp connect error: Cannot assign requested address (os error 99)"),
    ),
    "local ports",
  );
  assert.equal(exhaustedResourceOf(new Error("Cannot allocate memory (os error 12)")), "memory");
  assert.equal(
    exhaustedResourceOf(new TypeError("fetch failed", { cause: new Error("Connection refused") })),
    undefined,
  );
  assert.equal(exhaustedResourceOf(new Error("tcp connect error (os error 240)")), undefined);
  assert.equal(exhaustedResourceOf("Too many open files"), "file descriptors");
  assert.equal(exhaustedResourceOf(undefined), undefined);
});

Deno.test("a revisit is a conditional GET: a 304 is a success with no body, validators reported", async () => {
  const asked: Array<{ ifNoneMatch: string | null; ifModifiedSince: string | null }> = [];
  const lastModified = "Thu, 01 Jan 2026 00:00:00 GMT";
  await using server = serve((req) => {
    const ifNoneMatch = req.headers.get("if-none-match");
    const ifModifiedSince = req.headers.get("if-modified-since");
    asked.push({ ifNoneMatch, ifModifiedSince });
    const headers = { etag: '"v1"', "last-modified": lastModified };
    if (ifNoneMatch === '"v1"') return new Response(null, { status: 304, headers });
    return new Response("<p>page</p>", { headers });
  });
  const fetcher = new HttpFetcher({});
  try {
    const first = await fetcher.fetch({ url: `${server.origin}/p`, method: "GET" });
    assert.deepEqual([first.status, first.etag, first.lastModified], [200, '"v1"', lastModified]);
    const again = await fetcher.fetch({
      url: `${server.origin}/p`,
      method: "GET",
      validators: { etag: first.etag, lastModified: first.lastModified },
    });
    assert.deepEqual([again.status, again.body, again.bytes, again.etag], [304, "", 0, '"v1"']);
    assert.deepEqual(asked[1], { ifNoneMatch: '"v1"', ifModifiedSince: lastModified });
    assert.deepEqual(asked[0], { ifNoneMatch: null, ifModifiedSince: null });
    // A 304 nobody asked for is not a page.
    await using plain = serve(() => new Response(null, { status: 304 }));
    await assert.rejects(
      fetcher.fetch({ url: `${plain.origin}/`, method: "GET" }),
      (error) => error instanceof FetchError && error.status === 304 && !error.retriable,
    );
  } finally {
    fetcher.close();
  }
});
