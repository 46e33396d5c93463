/**
 * The sink contract (tests/contracts/sink_contract.ts) on SQLite, a temporary file per case; Postgres
 * keeps it in tests/postgres_sink_contract_test.ts.
 */

import { DatabaseSync } from "node:sqlite";
import { type ResultSink } from "./result_sink.ts";
import { SqliteSink } from "./sqlite_sink.ts";
import {
  type Backend,
  cases,
  FAST,
  type Row,
  type SinkOptions,
} from "../tests/contracts/sink_contract.ts";

class SqliteBackend implements Backend {
  readonly dialect = "sqlite";
  readonly #path: string;
  #locker: DatabaseSync | undefined;
  readonly #sinks: ResultSink[] = [];

  constructor(path: string) {
    this.#path = path;
  }

  static async create(): Promise<SqliteBackend> {
    return new SqliteBackend(`${await Deno.makeTempDir()}/sub/results.db`);
  }

  open(options: SinkOptions = {}): ResultSink {
    // A short busy timeout, so a write blocked by `breakIt` gives up quickly and retries.
    const sink = new SqliteSink(this.#path, { ...FAST, busyTimeoutMs: 50, ...options });
    this.#sinks.push(sink);
    return sink;
  }

  rows(table: string): Promise<Row[]> {
    const db = new DatabaseSync(this.#path);
    try {
      return Promise.resolve(
        db.prepare(`SELECT * FROM "${table}" ORDER BY id`).all().map((row) => ({ ...row })),
      );
    } finally {
      db.close();
    }
  }

  exec(sql: string): Promise<void> {
    Deno.mkdirSync(this.#path.replace(/[^/]*$/, ""), { recursive: true });
    const db = new DatabaseSync(this.#path);
    try {
      db.exec(sql);
    } finally {
      db.close();
    }
    return Promise.resolve();
  }

  breakIt(): Promise<void> {
    this.#locker = new DatabaseSync(this.#path);
    this.#locker.exec("PRAGMA busy_timeout = 5000; BEGIN EXCLUSIVE");
    return Promise.resolve();
  }

  restore(): Promise<void> {
    this.#locker?.exec("COMMIT");
    this.#locker?.close();
    this.#locker = undefined;
    return Promise.resolve();
  }

  async dispose(): Promise<void> {
    await this.restore();
    for (const sink of this.#sinks) await sink.close({ signal: AbortSignal.abort() });
  }
}

for (const [name, run] of cases) {
  Deno.test(`sqlite sink: ${name}`, async () => {
    const backend = await SqliteBackend.create();
    try {
      await run(backend);
    } finally {
      await backend.dispose();
    }
  });
}
