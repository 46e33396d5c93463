/**
 * @module
 * `deno task demo`: serves a douban-like demo site on 127.0.0.1:8088 (2,000 pages, some in
 * GBK, some failing once) and crawls it in standalone mode through the real CLI with
 * `examples/demo.toml`. Results land in data/demo.db.
 */
import { startDoubanFixture } from "../tests/douban_fixture.ts";

const site = startDoubanFixture({ tags: 20, booksPerTag: 99, port: 8088 });
console.log(`demo site: ${site.url}/ (${site.pages} pages)`);
const config = new URL("./demo.toml", import.meta.url).pathname;
const main = new URL("../main.ts", import.meta.url).pathname;
const child = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "--allow-all",
    main,
    "worker",
    "--cluster=false",
    `--config=${config}`,
    ...Deno.args,
  ],
  stdin: "null",
}).spawn();
const status = await child.status;
await site.close();
Deno.exit(status.code);
