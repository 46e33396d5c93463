/**
 * @module
 * A worker-like process for `sqlite_shared_test.ts`: waits for "go" on stdin, then opens the
 * results file, saves items (some keys shared with the other processes, some fields only its
 * own, so they race to add columns) in several batches, and closes. Any warning or error is
 * printed to stderr and fails the process.
 *
 * Usage: `deno run -A _sqlite_writer_process.ts <path> <id> <items>`
 */
import { SqliteSink } from "../storage/sqlite_sink.ts";
import type { Logger } from "../log/logger.ts";

const [path, idText, itemsText] = Deno.args;
const id = Number(idText);
const items = Number(itemsText);
let problems = 0;
const report = (level: string) => (msg: string, fields?: Record<string, unknown>) => {
  problems++;
  console.error(`${level}: ${msg}`, fields?.error ?? "");
};
const logger: Logger = {
  debug() {},
  info() {},
  warn: report("warn"),
  error: report("error"),
  child: () => logger,
};

console.log("ready");
const reader = Deno.stdin.readable.getReader();
await reader.read();
reader.releaseLock();

const sink = new SqliteSink(path, { logger, batchSize: 7, flushIntervalMs: 5 });
const time = Date.now();
for (let i = 0; i < items; i++) {
  sink.save(
    {
      task: "t",
      rule: "r",
      url: `http://w${id}/${i}`,
      time,
      key: `w${id}#${i}`,
      data: { a: id, [`only${id}`]: i },
    },
    ["a", `only${id}`],
  );
  if (i % 10 === 0) {
    sink.save(
      {
        task: "t",
        rule: "r",
        url: "http://shared/",
        time,
        key: `shared#${i}`,
        data: { a: id, b: id },
      },
      ["a", "b"],
    );
    sink.save(
      {
        task: `second ${i % 3}`,
        rule: "r",
        url: "http://x/",
        time,
        key: `w${id}#${i}`,
        data: { c: i },
      },
      ["c"],
    );
    await sink.flush();
  }
}
await sink.close();
if (problems > 0 || sink.stored === 0) Deno.exit(1);
