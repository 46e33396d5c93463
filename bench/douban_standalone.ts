/**
 * @module
 * The douban figure of `deno task bench`: the douban-like fixture site (2,000+ pages, limits
 * open) crawled in standalone mode through the real CLI, process start included.
 */
import { startDoubanFixture } from "../tests/douban_fixture.ts";

/** What the douban crawl measured. */
export interface DoubanFigures {
  /** The CLI's own summary line. */
  summary: string;
  pages: number;
  /** Wall time of the whole CLI run, process start included. */
  seconds: number;
  exitCode: number;
}

/** Crawls the fixture through `main.ts worker --cluster=false` at `concurrency` fetches. */
export async function benchDoubanStandalone(concurrency = 16): Promise<DoubanFigures> {
  const site = startDoubanFixture({ tags: 20, booksPerTag: 99, failOnceEvery: 0, gbkEvery: 4 });
  const dir = await Deno.makeTempDir({ prefix: "crawler-bench-" });
  try {
    const config = `${dir}/config.toml`;
    await Deno.writeTextFile(
      config,
      `logLevel = "warn"
Tasks = [{Name = "bench", Rule = "douban_book_list", URL = "${site.url}/", Reload = false, WaitTime = 0, Limits = []}]
[fetcher]
concurrency = ${concurrency}
[frontier]
url = "sqlite:${dir}/frontier.db"
[storage]
sqlURL = "sqlite:${dir}/bench.db"
batchSize = 500
`,
    );
    const main = new URL("../main.ts", import.meta.url).pathname;
    const started = performance.now();
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", main, "worker", "--cluster=false", `--config=${config}`],
      stdin: "null",
      stderr: "inherit",
    }).output();
    const seconds = (performance.now() - started) / 1000;
    const summary = new TextDecoder().decode(output.stdout).split("\n")
      .find((line) => line.startsWith("summary:")) ?? "(no summary line)";
    return { summary, pages: site.pages, seconds, exitCode: output.code };
  } finally {
    await site.close();
    await Deno.remove(dir, { recursive: true });
  }
}
