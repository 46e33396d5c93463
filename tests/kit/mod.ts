/**
 * @module
 * The kit the end-to-end tests are built from: one way to wait ({@linkcode waitFor}), `crawler`
 * child processes bound to their ports race-free, a {@linkcode Cluster} of them on a real etcd
 * (and Postgres), config files written from objects, and the real servers on their own.
 *
 * @example
 * ```ts
 * import { Cluster, waitFor } from "./kit/mod.ts";
 *
 * await using cluster = await Cluster.start({ masters: 1, workers: 2 });
 * await waitFor(async () => (await cluster.resources()).length === 0, { what: "no resource" });
 * ```
 */
export { every, holdsFor, waitFor, type WaitForOptions, waitForSteady } from "./wait.ts";
export { type ConfigInput, configText, mergeConfig, writeConfig } from "./config.ts";
export {
  agreedLeader,
  CrawlerProcess,
  dumpLogs,
  http,
  type LogRecord,
  type Role,
  type RoleOptions,
  startDev,
  startMaster,
  startWorker,
} from "./crawler.ts";
export {
  Cluster,
  type ClusterOptions,
  countPlacements,
  placedOn,
  type ProcessSlot,
  spread,
} from "./cluster.ts";
export { type CliResult, type CrawlerRunOptions, runCrawler, spawnCrawler } from "./cli.ts";
export { type EtcdServer, startEtcd, type StartEtcdOptions } from "./etcd.ts";
export {
  postgresBinDir,
  type PostgresServer,
  startPostgres,
  type StartPostgresOptions,
} from "./postgres.ts";
