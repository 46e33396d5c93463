import assert from "node:assert/strict";
import { Registry } from "prom-client";
import { HttpFetcher } from "../spider/fetcher.ts";
import { FetchMetrics } from "./fetch_metrics.ts";
import { parsePrometheusText } from "./_prometheus_text.ts";

/** Three sites on loopback (three hosts: one port each) answering with the status in the path. */
function sites() {
  const servers = [0, 1, 2].map(() =>
    Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
      const status = Number(new URL(request.url).pathname.slice(1)) || 200;
      return new Response("<html></html>", { status, headers: { "content-type": "text/html" } });
    })
  );
  return {
    hosts: servers.map((s) => `127.0.0.1:${s.addr.port}`),
    async close() {
      await Promise.all(servers.map((s) => s.shutdown()));
    },
  };
}

Deno.test("fetches are counted by status class and host, with the latency as a histogram", async () => {
  const site = sites();
  const http = new HttpFetcher({ timeoutMs: 3000 });
  const metrics = new FetchMetrics({ topHosts: 2 });
  const fetcher = metrics.measure(http);
  try {
    const [busy, second, quiet] = site.hosts;
    const plan: Array<[string, string, number]> = [
      [busy, "200", 4],
      [busy, "404", 1],
      [second, "500", 2],
      [quiet, "200", 1],
    ];
    for (const [host, path, times] of plan) {
      for (let i = 0; i < times; i++) {
        await fetcher.fetch({ url: `http://${host}/${path}`, method: "GET" }).catch(() => {});
      }
    }
    // Nothing listens on port 1: no HTTP answer at all.
    await fetcher.fetch({ url: "http://127.0.0.1:1/", method: "GET" }).catch(() => {});
    // An aborted fetch says nothing about the site and is not counted.
    await fetcher.fetch({ url: `http://${busy}/`, method: "GET", signal: AbortSignal.abort() })
      .catch(() => {});

    const registry = new Registry();
    metrics.register(registry);
    const families = parsePrometheusText(await registry.metrics());
    const series = (name: string) =>
      Object.fromEntries(
        families.get(name)!.samples.map((s) => [Object.values(s.labels).join(","), s.value]),
      );
    assert.deepEqual(series("crawler_fetches_total"), { "2xx": 5, "4xx": 1, "5xx": 2, error: 1 });
    assert.deepEqual(series("crawler_host_fetches_total"), {
      [busy]: 5,
      [second]: 2,
      other: 2, // the quiet host and 127.0.0.1:1: only the two busiest get a label
    });
    assert.deepEqual(series("crawler_host_fetch_failures_total"), {
      [busy]: 1,
      [second]: 2,
      other: 1,
    });
    const histogram = families.get("crawler_fetch_duration_seconds")!;
    assert.equal(histogram.type, "histogram");
    assert.equal(
      histogram.samples.find((s) => s.name === "crawler_fetch_duration_seconds_count")!.value,
      9,
    );
  } finally {
    http.close?.();
    await site.close();
  }
});

Deno.test("topHosts = 0 turns the per-host series off", async () => {
  const metrics = new FetchMetrics({ topHosts: 0 });
  metrics.observe("http://a.example/", "2xx", 0.1);
  const registry = new Registry();
  metrics.register(registry);
  const families = parsePrometheusText(await registry.metrics());
  assert.equal(families.has("crawler_host_fetches_total"), false);
  assert.equal(families.get("crawler_fetches_total")!.samples[0].value, 1);
});
