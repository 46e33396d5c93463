/**
 * The frontier contract (tests/contracts/frontier_contract.ts) on Postgres, a real server for the
 * file; and two processes claiming from one frontier at once, on SQLite and on Postgres.
 */

import { startPostgres } from "./kit/postgres.ts";
import type { Frontier } from "../frontier/frontier.ts";
import { openPostgresFrontier } from "../frontier/postgres_frontier.ts";
import { SqliteFrontier } from "../frontier/sqlite_frontier.ts";
import { claimedOnceByProcesses, frontierContract } from "./contracts/frontier_contract.ts";
import { frontierRevisitContract } from "./contracts/frontier_revisit_contract.ts";

const openPostgres = async () => {
  const server = await startPostgres();
  const clients: Frontier[] = [];
  return {
    url: server.url,
    async client() {
      const frontier = await openPostgresFrontier(server.url);
      clients.push(frontier);
      return frontier;
    },
    async dispose() {
      for (const c of clients) await c.close();
      await server.dispose();
    },
  };
};

Deno.test("frontier (postgres)", async (t) => {
  const backend = await openPostgres();
  try {
    await frontierContract(t, backend);
    await frontierRevisitContract(t, backend);
    await t.step("two processes claiming thousands never get one URL twice", async () => {
      await claimedOnceByProcesses({ ...backend, url: backend.url! });
    });
  } finally {
    await backend.dispose();
  }
});

Deno.test("frontier (sqlite): two processes claiming thousands never get one URL twice", async () => {
  const dir = await Deno.makeTempDir({ prefix: "frontier_" });
  const path = `${dir}/frontier.db`;
  const clients: Frontier[] = [];
  try {
    await claimedOnceByProcesses({
      url: `sqlite:${path}`,
      client: () => {
        const frontier = new SqliteFrontier(path);
        clients.push(frontier);
        return Promise.resolve(frontier);
      },
      dispose: () => Promise.resolve(),
    });
  } finally {
    for (const c of clients) await c.close();
    await Deno.remove(dir, { recursive: true });
  }
});
