/**
 * @module
 * `deno task bench`: crawls the douban-like fixture site (2,000+ pages, limits open) in
 * standalone mode through the real CLI and prints pages per second.
 */
import { startDoubanFixture } from "../tests/douban_fixture.ts";

const site = startDoubanFixture({ tags: 20, booksPerTag: 99, failOnceEvery: 0, gbkEvery: 4 });
const dir = await Deno.makeTempDir();
const config = `${dir}/config.toml`;
await Deno.writeTextFile(
  config,
  `logLevel = "warn"
Tasks = [{Name = "bench", Rule = "douban_book_list", URL = "${site.url}/", Reload = false, WaitTime = 0, Limits = []}]
[fetcher]
concurrency = 16
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
}).output();
const seconds = (performance.now() - started) / 1000;
await site.close();
await Deno.remove(dir, { recursive: true });
const summary = new TextDecoder().decode(output.stdout).split("\n").find((l) =>
  l.startsWith("summary:")
);
console.log(summary);
console.log(
  `standalone crawl of ${site.pages} pages: ${
    seconds.toFixed(2)
  } s wall (process start included), ` +
    `${(site.pages / seconds).toFixed(0)} pages/s`,
);
if (output.code !== 0) Deno.exit(output.code);
