/**
 * The host store contract (tests/contracts/host_store_contract.ts) on Postgres: a real server,
 * a database per case, two clients.
 */

import type { HostStore } from "../spider/politeness/host_store.ts";
import { PostgresHostStore } from "../spider/politeness/postgres_host_store.ts";
import { startPostgres } from "./kit/postgres.ts";
import { type Backend, hostStoreContract } from "./contracts/host_store_contract.ts";

const postgresBackend = async (): Promise<Backend> => {
  const pg = await startPostgres();
  let n = 0;
  let lastUrl = "";
  const opened: HostStore[] = [];
  return {
    client: async (options) => {
      // A database per test keeps tests apart; each client connects on its own.
      const url = n === 0
        ? await pg.createDatabase(`hosts_${crypto.randomUUID().slice(0, 8)}`)
        : lastUrl;
      lastUrl = url;
      n++;
      const store = await PostgresHostStore.open(url, options);
      opened.push(store);
      return store;
    },
    dispose: async () => {
      for (const store of opened) await store.close();
      await pg[Symbol.asyncDispose]();
    },
  };
};

Deno.test("host store (postgres)", async (t) => {
  const b = await postgresBackend();
  try {
    await hostStoreContract(t, b);
  } finally {
    await b.dispose();
  }
});
