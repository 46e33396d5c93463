/**
 * Two worker processes crawl one task from one Postgres frontier (two standalone processes on
 * the same task and frontier: they join one crawl). The host's Crawl-delay holds for both
 * together, measured at the server.
 */
import assert from "node:assert/strict";
import { spawnCrawler, startPostgres, writeConfig } from "./kit/mod.ts";
import { gaps, startPoliteFixture } from "./polite_fixture.ts";

Deno.test("two workers on one frontier keep one host's Crawl-delay together", async () => {
  await using pg = await startPostgres();
  const site = startPoliteFixture({ extraPages: 10 });
  const dir = await Deno.makeTempDir();
  try {
    for (const worker of [1, 2]) {
      await writeConfig(`${dir}/worker${worker}.toml`, {
        logLevel: "warn",
        fetcher: { timeout: 5000, concurrency: 4 },
        storage: { sqlURL: `sqlite:${dir}/results-${worker}.db` },
        frontier: { url: pg.url },
        Tasks: [{
          Name: "shared",
          URL: `${site.urls.robots}/`,
          MaxDepth: 3,
          Spec: { rules: { page: { links: [{ rule: "page", sameHost: true }] } } },
        }],
      });
    }
    const workers = [1, 2].map((worker) =>
      spawnCrawler([
        "worker",
        "--cluster=false",
        `--id=${worker}`,
        `--config=${dir}/worker${worker}.toml`,
      ])
    );
    const outputs = await Promise.all(workers.map((child) => child.output()));
    const decoder = new TextDecoder();
    const fetchedBy = outputs.map((output, i) => {
      const stdout = decoder.decode(output.stdout);
      assert.equal(output.code, 0, `worker ${i + 1}: ${decoder.decode(output.stderr)}`);
      return Number(/task shared: finished, fetched=(\d+)/.exec(stdout)?.[1] ?? NaN);
    });

    const pages = site.requests("robots");
    // Every allowed page once, between the two of them; both took part.
    assert.equal(pages.length, 15, pages.map((r) => r.path).join(" "));
    assert.equal(new Set(pages.map((r) => r.path)).size, 15);
    assert.equal(fetchedBy[0] + fetchedBy[1], 15, `fetched by each: ${fetchedBy}`);
    assert.ok(fetchedBy.every((n) => n > 0), `both workers fetched: ${fetchedBy}`);
    // Crawl-delay: 1, for both workers together: 0 requests closer than 1000 ms.
    const measured = gaps(pages);
    assert.deepEqual(measured.filter((gap) => gap < 1000), [], `gaps ${measured}`);
    console.log(
      `two workers, one host: ${pages.length} requests, fetched ${fetchedBy.join(" + ")}, ` +
        `min gap ${Math.min(...measured)} ms`,
    );
  } finally {
    await site.close();
    await Deno.remove(dir, { recursive: true });
  }
});
