/**
 * Several processes on one machine share one results file (the cluster walk-through in
 * docs/operating.md gives both workers `data/cluster.db`): they open it, write and close at the
 * same instant, on a new file each round so creating it and switching it to WAL race too. Before
 * the busy timeout came first, one two-worker start in four failed with "database is locked".
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";

const SCRIPT = new URL("./_sqlite_writer_process.ts", import.meta.url).pathname;
const PROCESSES = 5;
const ROUNDS = 20;
const ITEMS = 40;

interface Writer {
  child: Deno.ChildProcess;
  ready: Promise<void>;
  output: Promise<{ code: number; stderr: string }>;
}

function startWriter(path: string, id: number): Writer {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SCRIPT, path, String(id), String(ITEMS)],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = child.stdout.pipeThrough(new TextDecoderStream());
  const { promise: ready, resolve: resolveReady } = Promise.withResolvers<void>();
  const readOut = (async () => {
    let text = "";
    for await (const chunk of stdout) {
      text += chunk;
      if (text.includes("ready")) resolveReady();
    }
  })();
  const stderr = new Response(child.stderr).text();
  const output = (async () => {
    const status = await child.status;
    await readOut;
    resolveReady(); // a process that died before "ready" must not hang the round
    return { code: status.code, stderr: await stderr };
  })();
  return { child, ready, output };
}

Deno.test("processes opening, writing and closing one SQLite file at the same instant all succeed, every row once", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const path = `${dir}/round${round}/results.db`;
      const writers = Array.from({ length: PROCESSES }, (_, id) => startWriter(path, id));
      await Promise.all(writers.map((w) => w.ready));
      // All start at once: "go" goes to every process before any can be scheduled far ahead.
      const go = new TextEncoder().encode("go\n");
      await Promise.all(writers.map(async (w) => {
        const stdin = w.child.stdin.getWriter();
        await stdin.write(go);
        await stdin.close();
      }));
      const results = await Promise.all(writers.map((w) => w.output));
      results.forEach((result, id) => {
        assert.equal(result.code, 0, `round ${round}, process ${id}: ${result.stderr}`);
        assert.equal(result.stderr, "", `round ${round}, process ${id}`);
      });

      const db = new DatabaseSync(path);
      try {
        const keys = db.prepare(`SELECT item_key, only0, only${PROCESSES - 1}, b FROM "t"`).all();
        assert.equal(keys.length, PROCESSES * ITEMS + ITEMS / 10, `round ${round}: rows`);
        assert.equal(new Set(keys.map((k) => k.item_key)).size, keys.length, "every key once");
        for (let id = 0; id < PROCESSES; id++) {
          for (let i = 0; i < ITEMS; i++) {
            assert.ok(keys.some((k) => k.item_key === `w${id}#${i}`), `w${id}#${i} stored`);
          }
        }
        for (let table = 0; table < 3; table++) {
          const n = db.prepare(`SELECT count(*) AS n FROM "second ${table}"`).get()!.n as number;
          assert.ok(n > 0, `table "second ${table}" has rows`);
        }
      } finally {
        db.close();
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
