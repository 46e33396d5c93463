import assert from "node:assert/strict";
import postgres from "postgres";
import type { Logger } from "../log/logger.ts";
import { every, startPostgres, waitFor } from "./kit/mod.ts";
import { databaseOf, isPostgresUnavailable, PostgresPools } from "../db/postgres_pool.ts";

interface LogRecord {
  level: string;
  msg: string;
  fields?: Record<string, unknown>;
}

function recordingLogger(records: LogRecord[]): Logger {
  const log = (level: string) => (msg: string, fields?: Record<string, unknown>) =>
    records.push({ level, msg, fields });
  const logger: Logger = {
    debug: log("debug"),
    info: log("info"),
    warn: log("warn"),
    error: log("error"),
    child: () => logger,
  };
  return logger;
}

Deno.test("Postgres pools against a real server", async (t) => {
  // A server tuned for speed: commits are asynchronous unless a session asks otherwise.
  await using pg = await startPostgres({ settings: { synchronous_commit: "off" } });
  const records: LogRecord[] = [];
  const pools = new PostgresPools({ logger: recordingLogger(records) });
  const pool = pools.open(pg.url, { name: "frontier" });
  try {
    await t.step("every session commits synchronously, whatever the server's default", async () => {
      const plain = postgres(pg.url, { max: 1, onnotice: () => {} });
      try {
        const [server] = await plain`select current_setting('synchronous_commit') as value`;
        assert.equal(server.value, "off");
      } finally {
        await plain.end();
      }
      const [session] = await pool.run((sql) =>
        sql`select current_setting('synchronous_commit') as value`
      );
      assert.equal(session.value, "on");
    });

    await t.step(
      "an outage is logged once and its end with its length; work resumes within a second of the server",
      async () => {
        records.length = 0;
        await pg.stop();
        const downAt = performance.now();
        let failures = 0;
        // Work keeps trying while the server is away, as the engine's loops do.
        const trying = every(50, async () => {
          await assert.rejects(pool.run((sql) => sql`select 1`), (error) => {
            assert.ok(isPostgresUnavailable(error), String(error));
            return true;
          });
          failures++;
        });
        // The outage under test: the server away for 1.5 s.
        await new Promise((resolve) => setTimeout(resolve, 1500 - (performance.now() - downAt)));
        await trying.stop();
        await pg.restart();
        const backAt = performance.now();
        for (;;) {
          try {
            await pool.run((sql) => sql`select 1`);
            break;
          } catch (error) {
            assert.ok(isPostgresUnavailable(error), String(error));
            assert.ok(performance.now() - backAt < 5000, "the pool did not reconnect");
          }
        }
        const resumedMs = performance.now() - backAt;
        assert.ok(resumedMs < 1500, `resumed ${Math.round(resumedMs)} ms after the server`);
        // The outage is over once queries work with nothing failing for a moment.
        await waitFor(async () => {
          await pool.run((sql) => sql`select 1`);
          return records.some((r) => r.msg === "Postgres is back");
        }, { what: "the outage to end", timeoutMs: 2000, intervalMs: 50 });
        assert.ok(failures > 5);
        const away = records.filter((r) => r.msg === "Postgres is unavailable; waiting for it");
        const back = records.filter((r) => r.msg === "Postgres is back");
        assert.equal(away.length, 1, JSON.stringify(records));
        assert.equal(away[0].level, "warn");
        assert.equal(away[0].fields?.database, databaseOf(pg.url));
        assert.equal(back.length, 1);
        assert.ok((back[0].fields?.downMs as number) >= 1500, JSON.stringify(back[0]));
      },
    );

    await t.step(
      "a reset drops the connections; a call under way runs again on new ones",
      async () => {
        const [before] = await pool.run((sql) => sql`select pg_backend_pid() as pid`);
        const slow = pool.run((sql) => sql`select pg_sleep(0.3), pg_backend_pid() as pid`);
        const observer = postgres(pg.url, { max: 1, onnotice: () => {} });
        try {
          await waitFor(async () => {
            const [row] = await observer`select count(*)::int as n from pg_stat_activity
              where state = 'active' and query like '%pg_sleep(0.3)%' and pid <> pg_backend_pid()`;
            return row.n > 0;
          }, { what: "the slow call to run on the server" });
        } finally {
          await observer.end();
        }
        const resets = pool.resets;
        await pool.reset();
        assert.equal(pool.resets, resets + 1);
        const [after] = await slow;
        assert.notEqual(after.pid, before.pid, "a new connection");
      },
    );

    await t.step(
      "a failure of the client outside any query resets every pool, logged once",
      async () => {
        records.length = 0;
        const other = pools.open(pg.url, { name: "results", max: 1 });
        try {
          const resets = [pool.resets, other.resets];
          pools.clientFailed(new TypeError("Cannot read properties of null (reading 'write')"));
          pools.clientFailed(new TypeError("Cannot read properties of null (reading 'write')"));
          await waitFor(() => pool.resets > resets[0] && other.resets > resets[1], {
            what: "both pools reset",
            timeoutMs: 5000,
          });
          await pool.run((sql) => sql`select 1`);
          assert.deepEqual(records.map((r) => r.level + " " + r.msg), [
            "warn the Postgres client failed outside any query; its connections are opened afresh",
            "info the Postgres client works again",
          ]);
        } finally {
          await other.close();
        }
      },
    );
  } finally {
    await pool.close();
  }
  assert.equal(pools.size, 0);
});

Deno.test("a pool whose connection timed out connecting is opened afresh", async () => {
  // A server that accepts connections and never answers: the startup message goes unanswered,
  // as it does on a connection postgres.js left wedged.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn);
  })();
  const pools = new PostgresPools();
  const pool = pools.open(`postgres://nobody@127.0.0.1:${listener.addr.port}/none`, {
    name: "test",
    max: 1,
    connectTimeoutSeconds: 0.2,
  });
  try {
    await assert.rejects(pool.run((sql) => sql`select 1`), { code: "CONNECT_TIMEOUT" });
    assert.equal(pool.resets, 1);
  } finally {
    await pool.close(0);
    listener.close();
    await accepting;
    for (const conn of held) conn.close();
  }
});
