/**
 * The sink contract (tests/contracts/sink_contract.ts) on Postgres: a real server for the file, a fresh
 * database per case.
 */

import postgres from "postgres";
import { type PostgresServer, startPostgres } from "./kit/postgres.ts";

import { PostgresSink } from "../storage/postgres_sink.ts";
import { type ResultSink } from "../storage/result_sink.ts";
import {
  type Backend,
  cases,
  FAST,
  type Row,
  type SinkOptions,
} from "./contracts/sink_contract.ts";

class PostgresBackend implements Backend {
  readonly dialect = "postgres";
  readonly #server: PostgresServer;
  readonly #url: string;
  readonly #sinks: ResultSink[] = [];

  constructor(server: PostgresServer, url: string) {
    this.#server = server;
    this.#url = url;
  }

  open(options: SinkOptions = {}): ResultSink {
    const sink = new PostgresSink(this.#url, { ...FAST, connectTimeoutSeconds: 2, ...options });
    this.#sinks.push(sink);
    return sink;
  }

  async rows(table: string): Promise<Row[]> {
    const sql = postgres(this.#url, { max: 1, onnotice: () => {} });
    try {
      const rows = await sql.unsafe(`SELECT * FROM "${table}" ORDER BY id`);
      return rows.map((row) => ({
        ...row,
        id: Number(row.id),
        time: row.time instanceof Date ? row.time.toISOString() : row.time,
      }));
    } finally {
      await sql.end();
    }
  }

  async exec(text: string): Promise<void> {
    const sql = postgres(this.#url, { max: 1, onnotice: () => {} });
    try {
      await sql.unsafe(text);
    } finally {
      await sql.end();
    }
  }

  breakIt(): Promise<void> {
    return this.#server.stop();
  }

  restore(): Promise<void> {
    return this.#server.running ? Promise.resolve() : this.#server.restart();
  }

  async dispose(): Promise<void> {
    await this.restore();
    for (const sink of this.#sinks) await sink.close({ signal: AbortSignal.abort() });
  }
}

Deno.test("postgres sink: the sink contract", async (t) => {
  await using server = await startPostgres();
  let n = 0;
  for (const [name, run] of cases) {
    await t.step(name, async () => {
      const backend = new PostgresBackend(server, await server.createDatabase(`sink${n++}`));
      try {
        await run(backend);
      } finally {
        await backend.dispose();
      }
    });
  }
});
