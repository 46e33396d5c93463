/**
 * @module
 * The coordination store: one interface ({@linkcode Store}) with two implementations,
 * {@linkcode EtcdStore} for clusters and {@linkcode EmbeddedStore} for `crawler dev`.
 *
 * @example
 * ```ts
 * const store = await openEtcdStore({ endpoints: ["127.0.0.1:2379"], timeoutMs: 5000 });
 * // or, in one process: await openEmbeddedStore({ path: "data/store.json" });
 * const election = store.election("/crawler/election", 10);
 * const campaign = election.campaign("master1-127.0.0.1:9091");
 * await campaign.elected;
 * ```
 */

export * from "./store.ts";
export { EtcdStore, type EtcdStoreOptions, openEtcdStore } from "./etcd_store.ts";
export { EmbeddedStore, type EmbeddedStoreOptions, openEmbeddedStore } from "./embedded_store.ts";
export { StoreElection, type StoreElectionOptions } from "./store_election.ts";
export type { BackoffPolicy } from "./_backoff.ts";
