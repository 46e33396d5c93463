/**
 * @module
 * The `crawler` executable: parses the command line and wires the parts of a role together.
 * `crawler --help` lists the roles; `crawler <role> --help` describes every flag.
 */
import { checkListenPolicy, type NamedListener, resolveToken } from "./auth/mod.ts";
import {
  ConfigError,
  NoResultsError,
  ResultsUnavailableError,
  ServiceUnavailableError,
  StoreUnavailableError,
} from "./errors/mod.ts";
import { type ExportFlags, type Flags, parseCommandLine, type Role } from "./config/flags.ts";
import { loadConfig } from "./config/load_config.ts";
import type { Config } from "./config/config_schema.ts";
import { formatUnknownKey, type UnknownKey } from "./config/unknown_keys.ts";
import { createLogger, type Logger } from "./log/logger.ts";
import { builtinRuleSets } from "./rulesets/mod.ts";
import { runStandalone, seedTasks } from "./worker/standalone.ts";
import { runClusterWorker, workerIdOf, workerListenAddresses } from "./worker/run_worker.ts";
import { type EtcdStore, openEtcdStore } from "./store/mod.ts";
import { resolveMasterSettings, runMaster } from "./master/run_master.ts";
import { DEFAULT_DEV_HTTP, runDev } from "./dev/run_dev.ts";
import { runExport } from "./export/run_export.ts";
import { resultsLocation } from "./storage/open_result_reader.ts";

interface RoleContext {
  flags: Flags;
  config: Config;
  logger: Logger;
  signal: AbortSignal;
  /**
   * The API token (docs/operating.md, "Auth"), or undefined when the process serves without one.
   */
  token: string | undefined;
}

/** Runs the command line `args`; resolves with the process exit code. */
export async function main(args: readonly string[]): Promise<number> {
  let context: RoleContext;
  let role: Role;
  try {
    const line = parseCommandLine(args);
    if (line.action === "print") {
      console.log(line.text);
      return args.length === 0 ? 2 : 0; // a bare `crawler` is a usage error
    }
    if (line.action === "export") return await exportCommand(line.flags);
    role = line.role;
    const { flags } = line;
    if (flags.fresh && flags.cluster !== false) {
      // In a cluster a task's crawl belongs to its resource: delete and add it to start over.
      throw new ConfigError("--fresh", "only with --cluster=false (standalone mode)");
    }
    if (flags.once && flags.cluster !== false) {
      // A cluster's recrawl task runs until its resource is deleted; there is no "done" to exit at.
      throw new ConfigError("--once", "only with --cluster=false (standalone mode)");
    }
    const unknownKeys: UnknownKey[] = [];
    const config = await loadConfig(flags.config ?? "config.toml", {
      required: flags.config !== undefined,
      onUnknownKey: (key) => unknownKeys.push(key),
    });
    // Every role checks the config's Tasks up front: a preset no worker could run is a bad
    // config value, not something to discover when the leader assigns it.
    seedTasks(config, builtinRuleSets());
    const logger = createLogger({ level: config.logLevel });
    for (const key of unknownKeys) {
      logger.warn(`config: ${formatUnknownKey(key)}`, { config: flags.config ?? "config.toml" });
    }
    const token = resolveToken(config);
    checkListenPolicy(listenersOf(role, config, flags), {
      token,
      insecure: flags.insecure === true,
      role,
      logger,
    });
    context = { flags, config, logger, signal: shutdownSignal(logger), token };
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`crawler: ${error.message}`);
      return 2;
    }
    throw error;
  }
  try {
    return await runRole(role, context);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`crawler: ${error.message}`);
      return 2;
    }
    if (error instanceof ServiceUnavailableError) {
      console.error(`crawler: ${error.message}`);
      return 1;
    }
    // Could not start or failed on the way (a results file that cannot be opened...): say
    // why and exit non-zero rather than with a stack trace.
    console.error(`crawler: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

/**
 * `crawler export`: exit 0 once written, 1 when the task has no results or they cannot be read
 * (the database does not answer), 2 for a bad flag or config value.
 */
async function exportCommand(flags: ExportFlags): Promise<number> {
  let config: Config;
  try {
    config = await loadConfig(flags.config ?? "config.toml", {
      required: flags.config !== undefined,
    });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`crawler: ${error.message}`);
    return 2;
  }
  try {
    const summary = await runExport({ config, flags });
    if (summary.out !== undefined) {
      console.error(`crawler: wrote ${summary.rows} items of "${flags.task}" to ${summary.out}`);
    }
    return 0;
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`crawler: ${error.message}`);
      return 2;
    }
    if (error instanceof NoResultsError) {
      console.error(
        `crawler: no results for task "${error.task}": no table of that name in ` +
          `${resultsLocation(config.storage.sqlURL)}, and no task of that name in the config`,
      );
      return 1;
    }
    if (error instanceof ResultsUnavailableError) {
      console.error(`crawler: ${error.message}`);
      return 1;
    }
    console.error(
      `crawler: export failed: ${error instanceof Error ? error.message : String(error)}`,
    );
    return 1;
  }
}

/** The addresses `role` would listen on (none for a standalone worker). */
function listenersOf(role: Role, config: Config, flags: Flags): NamedListener[] {
  if (role === "dev") {
    return [{ address: flags.http ?? DEFAULT_DEV_HTTP, source: "--http" }];
  }
  if (role === "worker" && flags.cluster === false) return [];
  const [section, addresses] = role === "master"
    ? ["MasterServer", resolveMasterSettings(config, flags)] as const
    : ["GRPCServer", workerListenAddresses(config, flags)] as const;
  // Name what chose each address: the flag, the config key, or the flag's default.
  const source = (flag: "http" | "grpc", key: "HTTPListenAddress" | "GRPCListenAddress") =>
    flags[flag] !== undefined
      ? `--${flag}`
      : config[section][key] !== undefined
      ? `${section}.${key}`
      : `the default of --${flag}`;
  return [
    { address: addresses.http, source: source("http", "HTTPListenAddress") },
    { address: addresses.grpc, source: source("grpc", "GRPCListenAddress") },
  ];
}

async function runRole(role: Role, ctx: RoleContext): Promise<number> {
  if (role === "worker" && ctx.flags.cluster === false) {
    const summary = await runStandalone({
      config: ctx.config,
      ruleSets: builtinRuleSets(),
      logger: ctx.logger,
      signal: ctx.signal,
      workerId: workerIdOf(ctx.config, ctx.flags),
      fresh: ctx.flags.fresh,
      once: ctx.flags.once,
    });
    // Interrupted on purpose exits 0 (SIGINT/SIGTERM); otherwise every task must have finished.
    return summary.interrupted || summary.tasks.every((t) => t.state === "finished") ? 0 : 1;
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
    // Closes the store when it stops; its gRPC connections end with the process (Deno.exit).
    await runMaster({ ...ctx, store, endsWithProcess: true });
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
