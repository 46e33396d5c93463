import assert from "node:assert/strict";
import postgres from "postgres";
import { startPostgres } from "./kit/postgres.ts";

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

Deno.test("a test Postgres crashed as pg_ctl -m immediate does recovers what was committed, with its settings", async () => {
  await using pg = await startPostgres({ settings: { synchronous_commit: "off" } });
  const before = postgres(pg.url, { max: 1, onnotice: () => {} });
  const [setting] = await before`SELECT current_setting('synchronous_commit') AS value`;
  assert.equal(setting.value, "off");
  await before`CREATE TABLE kept (v int)`;
  // A session may still ask for durable commits on a server that does not make them by default.
  await before.begin(async (tx) => {
    await tx`SET LOCAL synchronous_commit = on`;
    await tx`INSERT INTO kept VALUES (42)`;
  });
  await pg.crash();
  assert.equal(pg.running, false);
  await assert.rejects(before`SELECT 1`);
  await before.end({ timeout: 0 });
  await pg.restart();
  const after = postgres(pg.url, { max: 1, onnotice: () => {} });
  try {
    const rows = await after`SELECT v FROM kept`;
    assert.deepEqual(rows.map((row) => row.v), [42]);
  } finally {
    await after.end();
  }
});
