/**
 * @module
 * How a master reads a task's results when they are in SQLite (`storage.sqlURL = "sqlite:…"`):
 * each worker keeps its own file, so the master asks every registered worker for the task's rows
 * (`GET /tasks/<name>/items?order=key`, with the cluster's token) and merges the streams by
 * `item_key` as they come. An item in several workers' files (a task that moved, one shared by
 * workers) is one row, the one stored last. Memory holds one row per worker and one page.
 */
import { authHeaders } from "../auth/token.ts";
import type { WorkerStatus } from "../proto/api_bodies.ts";
import { columnsOf } from "../storage/export_http.ts";
import {
  checkQuery,
  DEFAULT_PAGE_SIZE,
  type ResultQuery,
  type ResultReader,
  type ResultRows,
  type ResultValue,
} from "../storage/result_reader.ts";
import { InvalidArgumentError, NoResultsError, ResultsUnavailableError } from "../errors/mod.ts";

/** Options for {@linkcode WorkerResultReader}. */
export interface WorkerResultReaderOptions {
  /** The registered workers (`Master.listWorkers`). */
  workers: () => Promise<WorkerStatus[]>;
  /** The cluster's API token, sent to the workers. Default: none. */
  token?: string;
  /** How long a worker may take to begin its answer, ms. Default 10000. */
  timeoutMs?: number;
  /** Default: the global `fetch`. */
  fetch?: typeof fetch;
}

type Row = Record<string, unknown>;

/** One worker's answer: its columns and its rows, in key order. */
interface WorkerStream {
  worker: WorkerStatus;
  columns: string[];
  rows: AsyncGenerator<Row>;
  /** Stops the answer, whether its rows were read or not. */
  close(): Promise<void>;
}

/**
 * A {@linkcode ResultReader} over the workers' files. Rows come in `item_key` order (rows
 * without a key first), whatever `order` asks; `item_key` is a column only when `order` is
 * `key`. Every registered worker must answer (a worker without the task's table answers 404
 * and adds nothing); one that does not is a `ResultsUnavailableError` naming it.
 *
 * @example
 * ```ts
 * const reader = new WorkerResultReader({ workers: () => master.listWorkers(), token });
 * const rows = await reader.rows("books", { since: new Date("2026-01-01") });
 * ```
 */
export class WorkerResultReader implements ResultReader {
  readonly #workers: () => Promise<WorkerStatus[]>;
  readonly #token: string | undefined;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;

  /** Asks nothing yet: each `rows` call asks the workers registered then. */
  constructor(options: WorkerResultReaderOptions) {
    this.#workers = options.workers;
    this.#token = options.token;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#fetch = options.fetch ?? fetch;
  }

  /** Opens every worker's answer; resolves once all began (see the class doc). */
  async rows(task: string, query: ResultQuery = {}): Promise<ResultRows> {
    checkQuery(query);
    const workers = await this.#workers();
    // One controller for the whole export: cancelling it stops every worker's answer.
    const controller = new AbortController();
    const answers = await Promise.allSettled(
      workers.map((worker) => this.#open(worker, task, query, controller.signal)),
    );
    const streams = answers.flatMap((a) => a.status === "fulfilled" && a.value ? [a.value] : []);
    const closeAll = async () => {
      await Promise.all(streams.map((stream) => stream.close()));
      controller.abort();
    };
    const failed = answers.find((a) => a.status === "rejected");
    if (failed) {
      await closeAll();
      throw failed.reason;
    }
    if (streams.length === 0) throw new NoResultsError(task);
    const columns = unionOfColumns(streams);
    let selected = columns;
    if (query.fields) {
      const known = new Set(columns);
      const missing = query.fields.filter((f) => !known.has(f));
      if (missing.length > 0) {
        await closeAll();
        throw new InvalidArgumentError(
          `fields: task "${task}" has no column ${missing.map((m) => `"${m}"`).join(", ")} ` +
            `(its columns: ${columns.join(", ")})`,
        );
      }
      selected = [...query.fields];
    }
    const output = query.order === "key" ? ["item_key", ...selected] : selected;
    const pageSize = query.pageSize ?? DEFAULT_PAGE_SIZE;
    const limit = query.limit ?? Infinity;
    return {
      columns: output,
      pages: () => mergeByKey(streams, { columns: output, pageSize, limit, closeAll }),
      cancel: closeAll,
    };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Asks `worker` for the task's rows; undefined when it has none (404). */
  async #open(
    worker: WorkerStatus,
    task: string,
    query: ResultQuery,
    signal: AbortSignal,
  ): Promise<WorkerStream | undefined> {
    const params = new URLSearchParams({ format: "jsonl", order: "key" });
    if (query.since) params.set("since", query.since.toISOString());
    if (query.limit !== undefined) params.set("limit", String(query.limit));
    const url = `http://${worker.httpAddress}/tasks/${encodeURIComponent(task)}/items?${params}`;
    const where = `worker ${worker.id} at ${worker.httpAddress}`;
    // The deadline is for the answer to begin; the rows may then take as long as they take.
    const own = new AbortController();
    const stop = () => own.abort(signal.reason);
    signal.addEventListener("abort", stop, { once: true });
    const timer = setTimeout(
      () => own.abort(new Error(`no answer within ${this.#timeoutMs} ms`)),
      this.#timeoutMs,
    );
    let response: Response;
    try {
      response = await this.#fetch(url, { headers: authHeaders(this.#token), signal: own.signal });
    } catch (error) {
      signal.removeEventListener("abort", stop);
      throw new ResultsUnavailableError(
        `${where} did not answer for the results of "${task}": ${messageOf(own.signal, error)}`,
        { cause: error },
      );
    } finally {
      clearTimeout(timer);
    }
    if (response.status === 404) {
      signal.removeEventListener("abort", stop);
      await response.body?.cancel();
      return undefined;
    }
    const columns = response.ok ? columnsOf(response) : undefined;
    if (!response.ok || !columns || !response.body) {
      signal.removeEventListener("abort", stop);
      const text = await response.text().catch(() => "");
      throw new ResultsUnavailableError(
        `${where} answered ${response.status} for the results of "${task}"` +
          (text ? `: ${text.slice(0, 200)}` : ""),
      );
    }
    const body = response.body;
    const rows = jsonLines(body, where, () => signal.removeEventListener("abort", stop));
    return {
      worker,
      columns: columns.filter((c) => c !== "item_key"),
      rows,
      async close() {
        signal.removeEventListener("abort", stop);
        // A body never read is still unlocked: cancel it, or its connection stays open. One
        // that was aborted already is released, and its cancel's rejection says only that.
        if (!body.locked) await body.cancel().catch(() => {});
        own.abort();
        await rows.return(undefined);
      },
    };
  }
}

/** Every worker's columns, the first worker's order first, then columns only others have. */
function unionOfColumns(streams: readonly WorkerStream[]): string[] {
  const seen = new Set<string>();
  const columns: string[] = [];
  for (const stream of streams) {
    for (const column of stream.columns) {
      if (!seen.has(column)) {
        seen.add(column);
        columns.push(column);
      }
    }
  }
  return columns;
}

/** Parses a JSONL body line by line; `done` runs once it ends, fails or is given up. */
async function* jsonLines(
  body: ReadableStream<Uint8Array>,
  where: string,
  done: () => void,
): AsyncGenerator<Row> {
  let rest = "";
  try {
    for await (const chunk of body.pipeThrough(new TextDecoderStream())) {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop()!;
      for (const line of lines) if (line !== "") yield JSON.parse(line) as Row;
    }
    if (rest.trim() !== "") yield JSON.parse(rest) as Row;
  } catch (error) {
    throw new ResultsUnavailableError(`${where} stopped sending results: ${String(error)}`, {
      cause: error,
    });
  } finally {
    done();
  }
}

interface MergeOptions {
  columns: readonly string[];
  pageSize: number;
  limit: number;
  /** Stops every stream: run when the merge ends, however it ends. */
  closeAll: () => Promise<void>;
}

/**
 * Merges streams sorted by `item_key` (rows without a key first) into pages: each key once, from
 * the stream whose row is newest by `time`; rows without a key as they come.
 */
async function* mergeByKey(
  streams: readonly WorkerStream[],
  options: MergeOptions,
): AsyncGenerator<ResultValue[][]> {
  const heads = streams.map((stream) => ({ rows: stream.rows, row: undefined as Row | undefined }));
  const advance = async (head: (typeof heads)[number]) => {
    const next = await head.rows.next();
    head.row = next.done ? undefined : next.value;
  };
  const project = (row: Row): ResultValue[] =>
    options.columns.map((c) => (Object.hasOwn(row, c) ? row[c] : null) as ResultValue);
  let page: ResultValue[][] = [];
  let left = options.limit;
  try {
    await Promise.all(heads.map(advance));
    while (left > 0) {
      const unkeyed = heads.find((h) => h.row !== undefined && keyOf(h.row) === undefined);
      if (unkeyed) {
        page.push(project(unkeyed.row!));
        left--;
        await advance(unkeyed);
      } else {
        let least: string | undefined;
        for (const head of heads) {
          const key = head.row && keyOf(head.row);
          if (key !== undefined && (least === undefined || compareKeys(key, least) < 0)) {
            least = key;
          }
        }
        if (least === undefined) break;
        const same = heads.filter((h) => h.row !== undefined && keyOf(h.row) === least);
        const newest = same.reduce((a, b) => timeOf(b.row!) > timeOf(a.row!) ? b : a);
        page.push(project(newest.row!));
        left--;
        await Promise.all(same.map(advance));
      }
      if (page.length >= options.pageSize) {
        yield page;
        page = [];
      }
    }
    if (page.length > 0) yield page;
  } finally {
    await options.closeAll();
  }
}

function keyOf(row: Row): string | undefined {
  const key = row.item_key;
  return typeof key === "string" ? key : undefined;
}

function timeOf(row: Row): string {
  return typeof row.time === "string" ? row.time : "";
}

/**
 * Compares keys as SQLite sorts them (the bytes of their UTF-8): by code point, so a character
 * beyond U+FFFF (a surrogate pair in JavaScript) sorts after U+E000–U+FFFF, not before.
 */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

/** Surrogates (0xD800–0xDFFF) move above 0xE000–0xFFFF, which move down to make room. */
function codePointRank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  if (unit >= 0xe000) return unit - 0x800;
  return unit;
}

function messageOf(signal: AbortSignal, error: unknown): string {
  if (signal.aborted && signal.reason instanceof Error) return signal.reason.message;
  return error instanceof Error ? error.message : String(error);
}
