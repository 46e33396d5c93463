/**
 * The command line as a user meets it, on the real executable: help, version, a bad flag, an
 * unknown config key, and a standalone crawl's failure summary.
 */
import assert from "node:assert/strict";
import { VERSION } from "../version.ts";
import { runCrawler, writeConfig } from "./kit/mod.ts";
import { startDoubanFixture } from "./douban_fixture.ts";

Deno.test("crawler --help, <role> --help and --version exit 0; a bad flag exits 2 naming it", async () => {
  const help = await runCrawler(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /usage: crawler <command> \[flags\]/);
  const worker = await runCrawler(["worker", "--help"]);
  assert.equal(worker.code, 0, worker.stderr);
  assert.match(worker.stdout, /--cluster \[true\|false\][\s\S]*\(default: true\)/);
  assert.match(worker.stdout, /--insecure/);
  const version = await runCrawler(["--version"]);
  assert.deepEqual([version.code, version.stdout.trim()], [0, `crawler ${VERSION}`]);
  const bad = await runCrawler(["worker", "--clusterr=false"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^crawler: --clusterr: unknown flag for "crawler worker"/);
});

Deno.test("an unknown config key is a warning with the closest key, and a standalone crawl sums up its failures", async () => {
  // Books 3 and 10 answer 500 once; with no retries they fail for good.
  const site = startDoubanFixture({ tags: 2, booksPerTag: 7, failOnceEvery: 7 });
  const dir = await Deno.makeTempDir();
  try {
    // A misspelt key, as a user may write it.
    const typo = { MaxDeph: 3 };
    const config = await writeConfig(`${dir}/config.toml`, {
      logLevel: "warn",
      Tasks: [{
        Name: "books",
        Rule: "douban_book_list",
        URL: `${site.url}/`,
        WaitTime: 0,
        Limits: [],
        ...typo,
      }],
      fetcher: { retries: 0 },
      storage: { sqlURL: `sqlite:${dir}/items.db` },
      frontier: { url: `sqlite:${dir}/frontier.db` },
    });
    const result = await runCrawler(["worker", "--cluster=false", `--config=${config}`]);
    assert.equal(result.code, 0, result.stderr);
    const warnings = result.stderr.split("\n").filter((l) => l.includes('"level":"WARN"'));
    assert.match(
      warnings[0],
      /"msg":"config: Tasks\[0\]\.MaxDeph: unknown key; did you mean MaxDepth\?"/,
    );
    // The two final failures, and nothing for the pages that succeeded.
    assert.equal(warnings.filter((l) => l.includes('"msg":"fetch failed"')).length, 2);
    assert.equal(warnings.length, 3, result.stderr);
    assert.match(result.stdout, /^failures: 2 \(HTTP 500: 2\)$/m);
    assert.ok(
      !result.stdout.includes("\u001b["),
      "no terminal codes when stdout is not a terminal",
    );
  } finally {
    await site.close();
    await Deno.remove(dir, { recursive: true });
  }
});
