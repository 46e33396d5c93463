/**
 * The host store contract (tests/contracts/host_store_contract.ts) on memory and on SQLite (a
 * temp file, two connections as two processes would open it); Postgres keeps it in
 * tests/postgres_host_store_test.ts.
 */

import type { HostStore } from "./host_store.ts";
import { MemoryHostStore } from "./memory_host_store.ts";
import { SqliteHostStore } from "./sqlite_host_store.ts";
import { type Backend, hostStoreContract } from "../../tests/contracts/host_store_contract.ts";

const implementations: Array<{ name: string; backend: () => Promise<Backend> }> = [
  {
    name: "memory",
    backend: () => {
      // One process: each step's two clients are the same store (its first client's clock).
      let shared: MemoryHostStore | undefined;
      let calls = 0;
      return Promise.resolve({
        client: (options) => {
          if (calls++ % 2 === 0) shared = new MemoryHostStore(options);
          return Promise.resolve(shared!);
        },
        dispose: () => Promise.resolve(),
      });
    },
  },
  {
    name: "sqlite",
    backend: async () => {
      const dir = await Deno.makeTempDir({ prefix: "crawler_hosts_" });
      const opened: HostStore[] = [];
      return {
        client: (options) => {
          const store = new SqliteHostStore(`${dir}/frontier.db`, options);
          opened.push(store);
          return Promise.resolve(store);
        },
        dispose: async () => {
          for (const store of opened) await store.close();
          await Deno.remove(dir, { recursive: true });
        },
      };
    },
  },
];

for (const { name, backend } of implementations) {
  Deno.test(`host store (${name})`, async (t) => {
    const b = await backend();
    try {
      await hostStoreContract(t, b);
    } finally {
      await b.dispose();
    }
  });
}
