/**
 * The results reader contract (tests/contracts/result_reader_contract.ts) on SQLite, a temporary file
 * per case, and what only the SQLite reader does; Postgres keeps the contract in
 * tests/postgres_result_reader_test.ts.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { NoResultsError } from "../errors/mod.ts";

import type { ResultReader } from "./result_reader.ts";
import type { ResultSink } from "./result_sink.ts";
import { SqliteResultReader } from "./sqlite_result_reader.ts";
import { SqliteSink } from "./sqlite_sink.ts";
import {
  type Backend,
  cases,
  item,
  read,
  SINK,
} from "../tests/contracts/result_reader_contract.ts";

class SqliteBackend implements Backend {
  readonly idType = "INTEGER PRIMARY KEY AUTOINCREMENT";
  readonly #closers: Array<{ close(): Promise<void> }> = [];

  constructor(readonly path: string) {}

  sink(): ResultSink {
    const sink = new SqliteSink(this.path, SINK);
    this.#closers.push(sink);
    return sink;
  }

  reader(): ResultReader {
    const reader = new SqliteResultReader(this.path);
    this.#closers.push(reader);
    return reader;
  }

  exec(sql: string): Promise<void> {
    const db = new DatabaseSync(this.path);
    try {
      db.exec(sql);
    } finally {
      db.close();
    }
    return Promise.resolve();
  }

  async dispose(): Promise<void> {
    for (const closer of this.#closers) await closer.close();
  }
}

for (const [name, run] of cases) {
  Deno.test(`sqlite results reader: ${name}`, async () => {
    const dir = await Deno.makeTempDir();
    const backend = new SqliteBackend(`${dir}/results.db`);
    try {
      await run(backend);
    } finally {
      await backend.dispose();
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("sqlite results reader: a missing file holds no results and is not created", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/missing.db`;
  const reader = new SqliteResultReader(path);
  try {
    await assert.rejects(reader.rows("books"), NoResultsError);
    await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
    // Once the crawl made the file, the same reader finds it.
    const sink = new SqliteSink(path, SINK);
    sink.save(item("books", "a", { v: "1" }), ["v"]);
    await sink.close();
    assert.equal((await read(reader, "books")).rows.length, 1);
  } finally {
    await reader.close();
    await Deno.remove(dir, { recursive: true });
  }
});
