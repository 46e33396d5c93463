/**
 * The frontier contract (tests/contracts/frontier_contract.ts) in memory and on SQLite (a temporary
 * file); Postgres keeps it in tests/frontier_contract_test.ts, where processes claim at once.
 */

import type { Frontier } from "./frontier.ts";
import { MemoryFrontier } from "./memory_frontier.ts";
import { SqliteFrontier } from "./sqlite_frontier.ts";

import { type Backend, frontierContract } from "../tests/contracts/frontier_contract.ts";
import { frontierRevisitContract } from "../tests/contracts/frontier_revisit_contract.ts";

const backends: Array<{ name: string; open: () => Promise<Backend> }> = [
  {
    name: "memory",
    open: () => {
      const frontier = new MemoryFrontier();
      return Promise.resolve({
        client: () => Promise.resolve(frontier),
        dispose: () => Promise.resolve(),
      });
    },
  },
  {
    name: "sqlite",
    open: async () => {
      const dir = await Deno.makeTempDir({ prefix: "frontier_" });
      const path = `${dir}/frontier.db`;
      const clients: Frontier[] = [];
      return {
        url: `sqlite:${path}`,
        client: () => {
          const frontier = new SqliteFrontier(path);
          clients.push(frontier);
          return Promise.resolve(frontier);
        },
        async dispose() {
          for (const c of clients) await c.close();
          await Deno.remove(dir, { recursive: true });
        },
      };
    },
  },
];

for (const { name, open } of backends) {
  Deno.test(`frontier (${name})`, async (t) => {
    const backend = await open();
    try {
      await frontierContract(t, backend);
      await frontierRevisitContract(t, backend);
    } finally {
      await backend.dispose();
    }
  });
}
