/**
 * @module
 * `crawler export`: writes every stored item of a task (the table `storage.sqlURL` keeps for it)
 * as JSONL or CSV to a file or stdout, a page of rows at a time, so memory stays flat whatever
 * the table's size.
 */
import type { Config } from "../config/config_schema.ts";
import type { ExportFlags } from "../config/flags.ts";
import { ConfigError, InvalidArgumentError, NoResultsError } from "../errors/mod.ts";
import { exportStream } from "../storage/export_stream.ts";
import { openResultReader } from "../storage/open_result_reader.ts";
import {
  DEFAULT_COLUMNS,
  emptyRows,
  type ResultReader,
  type ResultRows,
} from "../storage/result_reader.ts";

/** Options for {@linkcode runExport}. */
export interface RunExportOptions {
  /** Where the results are (`storage.sqlURL`) and which tasks are configured. */
  config: Config;
  /** What to write, where. */
  flags: ExportFlags;
  /** Where the export goes without `--out`. Default: the process's stdout. */
  stdout?: WritableStream<Uint8Array>;
  /** Default: a reader on the config's `storage.sqlURL`, closed at the end. */
  reader?: ResultReader;
}

/** What an export wrote. */
export interface ExportSummary {
  /** Rows written. */
  rows: number;
  /** The file written, or undefined for stdout. */
  out?: string;
}

/**
 * Writes the task's rows. A task without a table is a `NoResultsError` (exit 1) unless the
 * config names it: then nothing was stored yet and the export is empty (a CSV has its header).
 * A field the table lacks is a `ConfigError` naming `--fields` (exit 2). The `--out` file is opened
 * only once the rows can be read, and removed again if the export fails half way.
 */
export async function runExport(options: RunExportOptions): Promise<ExportSummary> {
  const { config, flags } = options;
  const reader = options.reader ?? openResultReader(config.storage.sqlURL);
  try {
    let rows: ResultRows;
    try {
      rows = await reader.rows(flags.task, { since: flags.since, fields: flags.fields });
    } catch (error) {
      if (error instanceof InvalidArgumentError) {
        // The one argument the reader checks against the table: a field it lacks.
        throw new ConfigError("--fields", error.message.replace(/^fields: /, ""), { cause: error });
      }
      const configured = config.Tasks.some((task) => task.Name === flags.task);
      if (!(error instanceof NoResultsError) || !configured) throw error;
      rows = emptyRows(flags.fields ?? DEFAULT_COLUMNS);
    }
    let written = 0;
    const stream = exportStream(rows, flags.format, { onProgress: (n) => written = n });
    if (flags.out === undefined) {
      await toStdout(stream, options.stdout ?? Deno.stdout.writable);
      return { rows: written };
    }
    const file = await Deno.open(flags.out, { write: true, create: true, truncate: true });
    try {
      await stream.pipeTo(file.writable);
    } catch (error) {
      await Deno.remove(flags.out);
      throw error;
    }
    return { rows: written, out: flags.out };
  } finally {
    await reader.close();
  }
}

/** Pipes to stdout and leaves it open; a reader that went away (`| head`) ends the export. */
async function toStdout(
  stream: ReadableStream<Uint8Array>,
  stdout: WritableStream<Uint8Array>,
): Promise<void> {
  try {
    await stream.pipeTo(stdout, { preventClose: true });
  } catch (error) {
    if (!(error instanceof Deno.errors.BrokenPipe)) throw error;
  }
}
