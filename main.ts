/**
 * @module
 * The `crawler` executable: parses the command line and wires the parts of a role together.
 *
 *   crawler master [--id=1] [--http=:8081] [--grpc=:9091] [--etcd=HOST:PORT,...] [--advertise=HOST] [--config=FILE]
 *   crawler worker [--id=1] [--http=:8080] [--grpc=:9090] [--cluster=true|false] [--etcd=...] [--advertise=HOST] [--config=FILE]
 *   crawler dev    [--http=:8080] [--config=FILE]
 */
import { ConfigError } from "./config/config_error.ts";
import { type Flags, parseFlags, type Role } from "./config/flags.ts";
import { loadConfig } from "./config/load_config.ts";
import type { Config } from "./config/config_schema.ts";
import { createLogger, type Logger } from "./log/logger.ts";
import { builtinRuleSets } from "./rulesets/mod.ts";
import { runStandalone, seedTasks } from "./worker/standalone.ts";
import { runClusterWorker } from "./worker/run_worker.ts";
import { type EtcdStore, openEtcdStore, StoreUnavailableError } from "./store/mod.ts";
import { runMaster } from "./master/run_master.ts";
import { runDev } from "./dev/run_dev.ts";

const USAGE = `usage:
  crawler master [--id=1] [--http=:8081] [--grpc=:9091] [--etcd=HOST:PORT[,HOST:PORT]] [--advertise=HOST] [--config=config.toml]
  crawler worker [--id=1] [--http=:8080] [--grpc=:9090] [--cluster=true|false] [--etcd=...] [--advertise=HOST] [--config=config.toml]
  crawler dev    [--http=:8080] [--config=config.toml]`;

const ROLES: readonly Role[] = ["master", "worker", "dev"];

interface RoleContext {
  flags: Flags;
  config: Config;
  logger: Logger;
  signal: AbortSignal;
}

/** Runs the command line `args`; resolves with the process exit code. */
export async function main(args: readonly string[]): Promise<number> {
  const [role, ...rest] = args;
  if (role === undefined || role === "help" || role === "--help" || role === "-h") {
    console.log(USAGE);
    return role === undefined ? 2 : 0;
  }
  if (!ROLES.includes(role as Role)) {
    console.error(`crawler: unknown command "${role}"\n${USAGE}`);
    return 2;
  }
  let context: RoleContext;
  try {
    const flags = parseFlags(role as Role, rest);
    const config = await loadConfig(flags.config ?? "config.toml", {
      required: flags.config !== undefined,
    });
    // Every role checks the config's Tasks up front: a preset no worker could run is a bad
    // config value, not something to discover when the leader assigns it.
    seedTasks(config, builtinRuleSets());
    const logger = createLogger({ level: config.logLevel });
    context = { flags, config, logger, signal: shutdownSignal(logger) };
    return await runRole(role as Role, context);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`crawler: ${error.message}`);
      return 2;
    }
    throw error;
  }
}

async function runRole(role: Role, ctx: RoleContext): Promise<number> {
  if (role === "worker" && ctx.flags.cluster === false) {
    const summary = await runStandalone({
      config: ctx.config,
      ruleSets: builtinRuleSets(),
      logger: ctx.logger,
      signal: ctx.signal,
    });
    return summary.tasks.every((t) => t.state !== "running") ? 0 : 1;
  }
  if (role === "dev") {
    await runDev({ ...ctx, ruleSets: builtinRuleSets() });
    return 0;
  }
  const section = role === "master" ? ctx.config.MasterServer : ctx.config.GRPCServer;
  let store: EtcdStore;
  try {
    store = await openEtcdStore({
      endpoints: ctx.flags.etcd ?? [section.RegistryAddress],
      timeoutMs: section.ClientTimeOut * 1000,
      logger: ctx.logger.child("store"),
    });
  } catch (error) {
    if (!(error instanceof StoreUnavailableError)) throw error;
    console.error(`crawler: ${error.message}`);
    return 1;
  }
  if (role === "master") {
    await runMaster({ ...ctx, store }); // closes the store when it stops
    return 0;
  }
  try {
    await runClusterWorker({ ...ctx, store, ruleSets: builtinRuleSets() });
  } finally {
    await store.close();
  }
  return 0;
}

/** Aborts on the first SIGINT or SIGTERM; a second one exits at once. */
function shutdownSignal(logger: Logger): AbortSignal {
  const controller = new AbortController();
  const handler = (name: string) => () => {
    if (controller.signal.aborted) Deno.exit(130);
    logger.info("shutting down", { signal: name });
    controller.abort(new DOMException(`received ${name}`, "AbortError"));
  };
  Deno.addSignalListener("SIGINT", handler("SIGINT"));
  Deno.addSignalListener("SIGTERM", handler("SIGTERM"));
  return controller.signal;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
