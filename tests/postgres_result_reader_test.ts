/**
 * The results reader contract (tests/contracts/result_reader_contract.ts) on Postgres: a real server
 * for the file, a fresh database per case; and a server that does not answer.
 */
import assert from "node:assert/strict";
import postgres from "postgres";

import { ResultsUnavailableError } from "../errors/mod.ts";
import { type PostgresServer, startPostgres } from "./kit/postgres.ts";
import { PostgresResultReader } from "../storage/postgres_result_reader.ts";
import { PostgresSink } from "../storage/postgres_sink.ts";
import type { ResultReader } from "../storage/result_reader.ts";
import type { ResultSink } from "../storage/result_sink.ts";
import { type Backend, cases, SINK } from "./contracts/result_reader_contract.ts";

class PostgresBackend implements Backend {
  readonly idType = "serial PRIMARY KEY";
  readonly #closers: Array<{ close(): Promise<void> }> = [];

  constructor(readonly url: string) {}

  sink(): ResultSink {
    const sink = new PostgresSink(this.url, { ...SINK, connectTimeoutSeconds: 2 });
    this.#closers.push(sink);
    return sink;
  }

  reader(): ResultReader {
    const reader = new PostgresResultReader(this.url);
    this.#closers.push(reader);
    return reader;
  }

  async exec(text: string): Promise<void> {
    const sql = postgres(this.url, { max: 1, onnotice: () => {} });
    try {
      await sql.unsafe(text);
    } finally {
      await sql.end();
    }
  }

  async dispose(): Promise<void> {
    for (const closer of this.#closers) await closer.close();
  }
}

Deno.test("postgres results reader: the reader contract", async (t) => {
  await using server = await startPostgres();
  let n = 0;
  for (const [name, run] of cases) {
    await t.step(name, async () => {
      const backend = new PostgresBackend(await server.createDatabase(`reader${n++}`));
      try {
        await run(backend);
      } finally {
        await backend.dispose();
      }
    });
  }
  await t.step("a server that does not answer is a ResultsUnavailableError", async () => {
    await unavailable(server);
  });
});

async function unavailable(server: PostgresServer): Promise<void> {
  const reader = new PostgresResultReader(server.url, { connectTimeoutSeconds: 1 });
  try {
    await server.stop();
    await assert.rejects(reader.rows("t"), ResultsUnavailableError);
  } finally {
    await reader.close();
    await server.restart();
  }
}
