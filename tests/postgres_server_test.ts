import assert from "node:assert/strict";
import postgres from "postgres";
import { startPostgres } from "./postgres_server.ts";

Deno.test("a test Postgres keeps its data across a crash and a restart", async () => {
  await using pg = await startPostgres();
  const before = postgres(pg.url, { max: 1, onnotice: () => {} });
  await before`CREATE TABLE kept (v int)`;
  await before`INSERT INTO kept VALUES (42)`;
  await before.end();
  await pg.stop();
  assert.equal(pg.running, false);
  await pg.restart();
  const after = postgres(pg.url, { max: 1 });
  try {
    const rows = await after`SELECT v FROM kept`;
    assert.deepEqual(rows.map((row) => row.v), [42]);
  } finally {
    await after.end();
  }
});
