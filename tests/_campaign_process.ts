/**
 * @module
 * A candidate in its own process, for tests that kill a leader: campaigns on etcd with
 * `--endpoint`, `--value` and `--ttl`, prints "elected" once it leads, then waits to be killed.
 */

import { parseArgs } from "node:util";
import { EtcdStore } from "../store/etcd_store.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    endpoint: { type: "string" },
    value: { type: "string" },
    ttl: { type: "string" },
  },
});
if (!values.endpoint || !values.value || !values.ttl) {
  console.error("usage: _campaign_process.ts --endpoint=HOST:PORT --value=ID --ttl=SECONDS");
  Deno.exit(2);
}

const store = new EtcdStore({ endpoints: [values.endpoint] });
const campaign = store.election("/crawler/election", Number(values.ttl)).campaign(values.value);
await campaign.elected;
console.log("elected");
// Lead until killed; a lost lease is a test failure the parent sees as a missing leader.
await new Promise<void>((resolve) => campaign.signal.addEventListener("abort", () => resolve()));
console.error("leadership lost:", campaign.signal.reason);
await store.close();
Deno.exit(1);
