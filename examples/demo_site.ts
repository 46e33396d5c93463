/**
 * @module
 * `deno task demo-site`: serves the douban-like demo site on 127.0.0.1:8088 until Ctrl-C, for the
 * cluster walk-throughs in the README and docs/operating.md. Pass a port to use another:
 * `deno task demo-site 9000`.
 */
import { startDoubanFixture } from "../tests/douban_fixture.ts";

const port = Number(Deno.args[0] ?? 8088);
const site = startDoubanFixture({ tags: 20, booksPerTag: 99, latencyMs: 20, port });
console.log(`demo site: ${site.url}/ (${site.pages} pages); Ctrl-C to stop`);
Deno.addSignalListener("SIGINT", async () => {
  await site.close();
  Deno.exit(0);
});
