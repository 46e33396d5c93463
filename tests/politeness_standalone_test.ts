/**
 * Politeness through the real CLI in standalone mode, measured at the fixture's servers:
 * robots.txt obeyed, Crawl-delay kept, Retry-After waited out, 503s backed off, a robots.txt
 * that fails blocks its host, one that is missing allows everything, `Robots = false` ignores it.
 */
import assert from "node:assert/strict";
import { type ConfigInput, runCrawler, writeConfig } from "./kit/mod.ts";
import { gaps, type PoliteFixture, startPoliteFixture } from "./polite_fixture.ts";
import { DEFAULT_USER_AGENT } from "../spider/politeness/user_agent_token.ts";

/** The config of one task crawling the fixture's hosts; `task` adds to the task's keys. */
function writeTaskConfig(
  dir: string,
  site: PoliteFixture,
  task: Partial<NonNullable<ConfigInput["Tasks"]>[number]> = {},
): Promise<string> {
  return writeConfig(`${dir}/config.toml`, {
    logLevel: "warn",
    fetcher: { timeout: 5000 },
    storage: { sqlURL: `sqlite:${dir}/results.db` },
    frontier: { url: `sqlite:${dir}/frontier.db` },
    politeness: { maxBackoffMs: 2000 },
    Tasks: [{
      Name: "polite",
      URL: `${site.urls.robots}/`,
      MaxDepth: 5,
      ...task,
      Spec: {
        rules: {
          page: {
            links: [{ rule: "page" }],
            output: { fields: { title: { regex: "<title>([^<]*)</title>" } } },
          },
        },
      },
    }],
  });
}

function paths(site: PoliteFixture, name: Parameters<PoliteFixture["requests"]>[0]): string[] {
  return site.requests(name).map((r) => r.path).sort();
}

Deno.test("the default crawl is polite, measured at the servers", async () => {
  const site = startPoliteFixture();
  const dir = await Deno.makeTempDir();
  try {
    await writeTaskConfig(dir, site);
    const result = await runCrawler(["worker", "--cluster=false", `--config=${dir}/config.toml`]);
    assert.equal(result.code, 0, result.stderr);

    // robots.txt: the disallowed pages are never requested, the Allow inside them is.
    assert.deepEqual(paths(site, "robots"), ["/", "/a1", "/a2", "/a3", "/private/open/1"]);
    // Crawl-delay: 1 — every request to the host at least 1000 ms after the previous one.
    const robotsGaps = gaps(site.requests("robots"));
    assert.deepEqual(robotsGaps.filter((gap) => gap < 1000), [], `gaps ${robotsGaps}`);
    // Counted: /private/secret and /private/hidden.
    assert.match(result.stdout, /task polite: finished, .* disallowed=2/);

    // Retry-After: 2 — nothing to the host for 2 s after the 429, then the page is fetched.
    const throttle = site.requests("throttle");
    const i = throttle.findIndex((r) => r.status === 429);
    assert.ok(i >= 0, "the 429 was answered");
    assert.ok(
      throttle[i + 1].at - throttle[i].at >= 2000,
      `next after ${throttle[i + 1].at - throttle[i].at} ms`,
    );
    assert.deepEqual(paths(site, "throttle"), ["/", "/b1", "/b2", "/b2", "/b3", "/b4"]);

    // 503s without Retry-After: each try of /c1 waits the backed-off delay; /c2 is fetched.
    const c1 = site.requests("unavailable").filter((r) => r.path === "/c1");
    assert.ok(c1.length >= 5, `c1 tried ${c1.length} times`);
    assert.deepEqual(gaps(c1).filter((gap) => gap < 1000), [], `c1 gaps ${gaps(c1)}`);
    assert.ok(paths(site, "unavailable").includes("/c2"));

    // robots.txt answering 500: the host is left alone; 404: everything is allowed.
    assert.deepEqual(site.requests("broken", { withRobots: true }).map((r) => r.path), [
      "/robots.txt",
    ]);
    assert.deepEqual(paths(site, "open"), ["/", "/e2", "/private/e1"]);

    // Every site saw our User-Agent, and robots.txt was fetched once per host.
    assert.ok(site.seen.every((r) => r.userAgent === DEFAULT_USER_AGENT));
    for (const name of Object.keys(site.urls) as Array<keyof typeof site.urls>) {
      const robots = site.requests(name, { withRobots: true }).filter((r) =>
        r.path === "/robots.txt"
      );
      assert.equal(robots.length, 1, `${name} robots.txt fetched ${robots.length} times`);
    }
    // Failed in the end: the 503 page (after its tries) and the blocked host's page; the 429
    // page did not fail.
    assert.match(result.stdout, /task polite: finished, fetched=\d+ failed=2 /);
  } finally {
    await site.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Robots = false crawls what robots.txt forbids; the task's own delay still holds", async () => {
  const site = startPoliteFixture();
  const dir = await Deno.makeTempDir();
  try {
    await writeTaskConfig(dir, site, { Robots: false, Politeness: { DelayMs: 300 } });
    const result = await runCrawler(["worker", "--cluster=false", `--config=${dir}/config.toml`]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(paths(site, "robots"), [
      "/",
      "/a1",
      "/a2",
      "/a3",
      "/private/hidden",
      "/private/open/1",
      "/private/secret",
    ]);
    assert.deepEqual(paths(site, "broken"), ["/", "/d1"]);
    assert.equal(site.seen.filter((r) => r.path === "/robots.txt").length, 0);
    // No Crawl-delay without robots.txt, but the task's DelayMs, on every host.
    for (const name of ["robots", "open", "throttle"] as const) {
      const measured = gaps(site.requests(name));
      assert.deepEqual(measured.filter((gap) => gap < 300), [], `${name} gaps ${measured}`);
    }
  } finally {
    await site.close();
    await Deno.remove(dir, { recursive: true });
  }
});
