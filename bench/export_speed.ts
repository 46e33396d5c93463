/**
 * @module
 * How fast and how small `crawler export` is (issue 20's target: JSONL of a 1,000,000-row SQLite
 * table at ≥ 100,000 rows/s with a peak RSS ≤ 150 MB). A table of douban-like rows (seven
 * Chinese-named fields, ~300 bytes a row) is made in a temporary directory, then exported through
 * the real CLI in its own process, as JSONL and as CSV, to a file. The process's peak RSS is the
 * kernel's high-water mark; rows/s are counted over the export's own time, the process's start-up
 * (measured on an export of a task with no rows) taken off.
 *
 *   deno run --allow-all bench/export_speed.ts [--rows=1000000]
 */
import { DatabaseSync } from "node:sqlite";
import { silentLogger } from "../log/logger.ts";
import { SqliteSink } from "../storage/sqlite_sink.ts";
import { sampleProcess } from "./_process_stats.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const FIELDS = ["书名", "作者", "页数", "出版社", "得分", "价格", "简介"];

/** Issue 20's target for the JSONL export's peak RSS, bytes. */
export const EXPORT_RSS_TARGET_BYTES = 150 * 1000 * 1000;
/** Issue 20's target for the JSONL export's rows/s. */
export const EXPORT_RATE_TARGET = 100_000;

/** What one export run measured. */
export interface ExportFigures {
  /** The format written. */
  format: "jsonl" | "csv";
  /** Rows in the table, and so written. */
  rows: number;
  /** Size of the file written. */
  bytes: number;
  /** Wall time of the process, start-up included. */
  seconds: number;
  /** Wall time less the start-up of an empty export. */
  exportSeconds: number;
  /** The export process's peak resident memory (the kernel's high-water mark). */
  peakRssBytes: number;
}

/** Makes a results file with `rows` rows in the table `bench`. */
function makeTable(path: string, rows: number): Promise<void> {
  const sink = new SqliteSink(path, { logger: silentLogger });
  sink.save({
    task: "bench",
    rule: "书籍简介",
    url: "http://bench.test/subject/0/",
    time: Date.UTC(2026, 0, 1),
    key: "http://bench.test/subject/0/#0",
    data: Object.fromEntries(FIELDS.map((f) => [f, `${f} 0`])),
  }, FIELDS);
  return sink.close().then(() => {
    const db = new DatabaseSync(path);
    try {
      db.exec(
        `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${rows - 1}) ` +
          `INSERT INTO "bench" (item_key, rule, url, time, "书名", "作者", "页数", "出版社", ` +
          `"得分", "价格", "简介") SELECT 'http://bench.test/subject/' || i || '/#0', '书籍简介', ` +
          `'http://bench.test/subject/' || i || '/', '2026-01-01T00:00:00.000Z', ` +
          `'测试之书 ' || i, '作者' || (i % 17), 100 + i % 500, '出版社' || (i % 5), ` +
          `'8.' || (i % 10), ' ' || (20 + i % 30) || '.00元', ` +
          `'这是第' || i || '本书的简介, with "quotes" and a comma.' FROM n`,
      );
    } finally {
      db.close();
    }
  });
}

/** Runs `crawler export` in its own process, sampling its memory. */
async function runExport(
  config: string,
  task: string,
  format: "jsonl" | "csv",
  out: string,
): Promise<{ seconds: number; peakRssBytes: number }> {
  const start = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    // As `deno task start` runs the crawler.
    args: [
      "run",
      "--allow-all",
      "--v8-flags=--max-semi-space-size=4",
      MAIN,
      "export",
      `--task=${task}`,
      `--format=${format}`,
      `--out=${out}`,
      `--config=${config}`,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const sampler = sampleProcess(child.pid, { intervalMs: 50 });
  const [status, stderr] = await Promise.all([child.status, new Response(child.stderr).text()]);
  const seconds = (performance.now() - start) / 1000;
  const peaks = sampler.stop();
  if (!status.success) throw new Error(`crawler export exited with ${status.code}: ${stderr}`);
  return { seconds, peakRssBytes: peaks.peakRssBytes };
}

/** Counts the lines of a file without holding it. */
async function countLines(path: string): Promise<number> {
  let lines = 0;
  using file = await Deno.open(path);
  for await (const chunk of file.readable) {
    for (let i = 0; i < chunk.length; i++) if (chunk[i] === 10) lines++;
  }
  return lines;
}

/** Makes the table, exports it as JSONL and CSV, and returns the figures. */
export async function benchExport(options: { rows: number }): Promise<ExportFigures[]> {
  const dir = await Deno.makeTempDir({ prefix: "crawler_bench_export_" });
  try {
    const results = `${dir}/results.db`;
    const made = performance.now();
    await makeTable(results, options.rows);
    console.error(
      `export bench: ${options.rows.toLocaleString("en-US")} rows made in ${
        ((performance.now() - made) / 1000).toFixed(1)
      } s (${((await Deno.stat(results)).size / 1e6).toFixed(0)} MB)`,
    );
    const config = `${dir}/config.toml`;
    await Deno.writeTextFile(
      config,
      `Tasks = [{Name = "empty", Rule = "douban_book_list"}]\n` +
        `[storage]\nsqlURL = "sqlite:${results}"\n`,
    );
    const startup = await runExport(config, "empty", "jsonl", `${dir}/empty.jsonl`);
    const figures: ExportFigures[] = [];
    for (const format of ["jsonl", "csv"] as const) {
      const out = `${dir}/out.${format}`;
      const run = await runExport(config, "bench", format, out);
      const lines = await countLines(out);
      // CSV: the header, and one more line per row whose 简介 holds no line break.
      const expected = format === "jsonl" ? options.rows : options.rows + 1;
      if (lines !== expected) throw new Error(`${format}: ${lines} lines, expected ${expected}`);
      figures.push({
        format,
        rows: options.rows,
        bytes: (await Deno.stat(out)).size,
        seconds: run.seconds,
        exportSeconds: Math.max(0.001, run.seconds - startup.seconds),
        peakRssBytes: run.peakRssBytes,
      });
      await Deno.remove(out);
    }
    return figures;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** One figure line, with the targets where they apply. */
export function exportLine(f: ExportFigures): string {
  const rate = f.rows / f.exportSeconds;
  const mb = f.peakRssBytes / 1e6;
  const ok = f.format === "jsonl"
    ? `  [target ≥ ${EXPORT_RATE_TARGET.toLocaleString("en-US")} rows/s: ${
      rate >= EXPORT_RATE_TARGET ? "met" : "MISSED"
    }; ≤ ${EXPORT_RSS_TARGET_BYTES / 1e6} MB: ${
      f.peakRssBytes <= EXPORT_RSS_TARGET_BYTES ? "met" : "MISSED"
    }]`
    : "";
  return `${f.format.toUpperCase().padEnd(5)} export of ${
    f.rows.toLocaleString("en-US")
  } SQLite rows: ` +
    `${Math.round(rate).toLocaleString("en-US")} rows/s (${f.exportSeconds.toFixed(2)} s, ` +
    `${f.seconds.toFixed(2)} s with start-up), peak RSS ${mb.toFixed(0)} MB, ` +
    `${(f.bytes / 1e6).toFixed(0)} MB written${ok}`;
}

if (import.meta.main) {
  const arg = Deno.args.find((a) => a.startsWith("--rows="));
  const rows = arg ? Number(arg.slice(7)) : 1_000_000;
  if (!Number.isSafeInteger(rows) || rows < 2) throw new Error("--rows: expected a number ≥ 2");
  for (const figures of await benchExport({ rows })) console.log(exportLine(figures));
}
