/**
 * @module
 * The command line of the three roles and of `crawler export`, on npm `commander`:
 * `--flag=value` and `--flag value` both work, `crawler <command> --help` describes every flag
 * with its default, and a bad flag is a `ConfigError` naming it (the CLI exits 2). Flags win over
 * the config file.
 */
import { Command, CommanderError, Option } from "commander";
import { ConfigError } from "../errors/mod.ts";
import { VERSION } from "../version.ts";
import { EXPORT_FORMATS, type ExportFormat } from "../storage/export_stream.ts";
import { parseFields, parseSince } from "../storage/result_reader.ts";

export type Role = "master" | "worker" | "dev";

/** The roles, in the order `crawler --help` lists them. */
export const ROLES: readonly Role[] = ["master", "worker", "dev"];

/** Every command: the roles, which run until stopped, and `export`, which runs once. */
export type CommandName = Role | "export";

/** The commands, in the order `crawler --help` lists them. */
export const COMMANDS: readonly CommandName[] = [...ROLES, "export"];

export interface Flags {
  id?: string;
  http?: ListenAddress;
  grpc?: ListenAddress;
  etcd?: string[];
  advertise?: string;
  config?: string;
  cluster?: boolean;
  /** Serve without a token beyond loopback (docs/operating.md, "Auth"). */
  insecure?: boolean;
  /** Standalone: start every task's crawl afresh instead of resuming it. */
  fresh?: boolean;
  /** Standalone: fetch each page of a recrawl task once and exit, instead of revisiting. */
  once?: boolean;
}

/** The flags of `crawler export`. */
export interface ExportFlags {
  /** The task whose results are written. */
  task: string;
  format: ExportFormat;
  /** The file written; none: stdout. */
  out?: string;
  since?: Date;
  fields?: string[];
  config?: string;
}

/** A listen address from `:PORT` or `HOST:PORT`. An empty host means every interface. */
export interface ListenAddress {
  host: string;
  port: number;
}

type FlagKind = "string" | "address" | "bool" | "endpoints" | "format" | "date" | "fields";

interface FlagSpec {
  kind: FlagKind;
  /** The value's shape in the help text. */
  value?: string;
  help: string;
  /** The default as the help text states it (flags carry no default: the config may set one). */
  default: string;
}

const CONFIG_FLAG: FlagSpec = {
  kind: "string",
  value: "FILE",
  help: "the TOML config file; a missing config.toml means all defaults, a missing --config " +
    "file is an error",
  default: "config.toml",
};
const INSECURE_FLAG: FlagSpec = {
  kind: "bool",
  value: "true|false",
  help: "serve without an API token on addresses beyond loopback (logged as a warning); " +
    "without a token and without this flag such a process refuses to start",
  default: "false",
};
const ETCD_FLAG = (section: string): FlagSpec => ({
  kind: "endpoints",
  value: "HOST:PORT[,HOST:PORT]",
  help: "the etcd endpoints",
  default: `${section}.RegistryAddress, else 127.0.0.1:2379`,
});
const ADVERTISE_FLAG: FlagSpec = {
  kind: "string",
  value: "HOST",
  help: "the host other processes reach this one at (on one machine: 127.0.0.1)",
  default: "the first non-loopback IPv4 address",
};

const FLAGS: Record<CommandName, Record<string, FlagSpec>> = {
  master: {
    id: {
      kind: "string",
      value: "ID",
      help: "this master's number; its full id is master<ID>-<advertise>:<grpc port>",
      default: "MasterServer.ID, else 1",
    },
    http: {
      kind: "address",
      value: "[HOST]:PORT",
      help: "where the HTTP API listens (no host: every interface)",
      default: "MasterServer.HTTPListenAddress, else :8081",
    },
    grpc: {
      kind: "address",
      value: "[HOST]:PORT",
      help: "where the gRPC API listens; other masters forward writes here",
      default: "MasterServer.GRPCListenAddress, else :9091",
    },
    etcd: ETCD_FLAG("MasterServer"),
    advertise: ADVERTISE_FLAG,
    config: CONFIG_FLAG,
    insecure: INSECURE_FLAG,
  },
  worker: {
    id: {
      kind: "string",
      value: "ID",
      help: "this worker's number; it registers as <GRPCServer.Name>-<ID>",
      default: "GRPCServer.ID, else 1",
    },
    http: {
      kind: "address",
      value: "[HOST]:PORT",
      help: "where /healthz, /readyz, /tasks and /metrics are served",
      default: "GRPCServer.HTTPListenAddress, else :8080",
    },
    grpc: {
      kind: "address",
      value: "[HOST]:PORT",
      help: "where the worker's gRPC API listens (the Address masters hand out)",
      default: "GRPCServer.GRPCListenAddress, else :9090",
    },
    cluster: {
      kind: "bool",
      value: "true|false",
      help: "true: run the tasks the leader assigns over etcd; false: crawl the config's Tasks " +
        "alone and exit when done (no etcd, no ports)",
      default: "true",
    },
    fresh: {
      kind: "bool",
      value: "true|false",
      help: "standalone: start every task's crawl over instead of resuming an unfinished one " +
        "(a crawl that had finished starts over anyway)",
      default: "false",
    },
    once: {
      kind: "bool",
      value: "true|false",
      help: "standalone: crawl each page of a recrawl task (Recrawl) once and exit, instead of " +
        "revisiting pages until stopped",
      default: "false",
    },
    etcd: ETCD_FLAG("GRPCServer"),
    advertise: ADVERTISE_FLAG,
    config: CONFIG_FLAG,
    insecure: INSECURE_FLAG,
  },
  dev: {
    http: {
      kind: "address",
      value: "[HOST]:PORT",
      help: "where the API, the worker's API (/worker/) and the dashboard (/) are served",
      default: "127.0.0.1:8080",
    },
    config: CONFIG_FLAG,
    insecure: INSECURE_FLAG,
  },
  export: {
    task: {
      kind: "string",
      value: "NAME",
      help: "the task whose results are written",
      default: "none: required",
    },
    format: {
      kind: "format",
      value: EXPORT_FORMATS.join("|"),
      help: "jsonl: a JSON object per line; csv: RFC 4180 with a header row, UTF-8",
      default: "jsonl",
    },
    out: {
      kind: "string",
      value: "FILE",
      help: "the file to write (replaced if it exists)",
      default: "stdout",
    },
    since: {
      kind: "date",
      value: "ISO",
      help: "only items stored at or after this date or time (2026-01-02, 2026-01-02T03:04:05Z)",
      default: "every item",
    },
    fields: {
      kind: "fields",
      value: "a,b",
      help: "the columns to write, in this order (rule, url, time and the item's fields)",
      default: "every column but id and item_key",
    },
    config: CONFIG_FLAG,
  },
};

const SUMMARY: Record<CommandName, string> = {
  master: "campaign for leadership over etcd and serve the HTTP and gRPC APIs",
  worker: "run crawl tasks: those the leader assigns (cluster), or the config's (standalone)",
  dev: "a master and a worker in one process, no etcd; the dashboard at /",
  export: "write a task's stored items (storage.sqlURL) as JSONL or CSV, to a file or stdout",
};

/** What the command line asks for. */
export type CommandLine =
  | { action: "run"; role: Role; flags: Flags }
  /** `crawler export`: write a task's items and exit. */
  | { action: "export"; flags: ExportFlags }
  /** Help or the version was asked for: print `text` to stdout and exit 0. */
  | { action: "print"; text: string };

/**
 * Parses the whole command line (`args` without the program name). Throws `ConfigError`
 * naming the flag (or command) for anything bad.
 */
export function parseCommandLine(args: readonly string[]): CommandLine {
  const [role, ...rest] = args;
  if (role === "--version" || role === "-V" || role === "version") {
    return { action: "print", text: `crawler ${VERSION}` };
  }
  if (role === undefined || role === "--help" || role === "-h" || role === "help") {
    return { action: "print", text: usage() };
  }
  if (!COMMANDS.includes(role as CommandName)) {
    throw new ConfigError(role, `unknown command (commands: ${COMMANDS.join(", ")}; see --help)`);
  }
  const name = role as CommandName;
  const command = commandOf(name);
  let printed = "";
  command.exitOverride().configureOutput({
    writeOut: (text) => (printed += text),
    writeErr: () => {}, // the error is thrown and reported once, by the caller
  });
  try {
    command.parse(rest as string[], { from: "user" });
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    if (error.code === "commander.helpDisplayed") {
      return { action: "print", text: printed.trimEnd() };
    }
    throw commanderFailure(name, error, rest);
  }
  const values = convertAll(name, command.opts());
  if (name === "export") return { action: "export", flags: exportFlags(values) };
  return { action: "run", role: name, flags: values as Flags };
}

function exportFlags(values: Record<string, unknown>): ExportFlags {
  if (values.task === undefined) {
    throw new ConfigError("--task", "required: the task whose results to write");
  }
  return { format: "jsonl", ...values } as unknown as ExportFlags;
}

/** Parses the flags that follow the role name. */
export function parseFlags(role: Role, args: readonly string[]): Flags {
  const line = parseCommandLine([role, ...args]);
  if (line.action !== "run") throw new ConfigError("--help", "not a run of the role");
  return line.flags;
}

/** `crawler --help`: the roles, and where each one's flags are described. */
export function usage(): string {
  const lines = [
    `crawler ${VERSION}: a distributed web crawler`,
    "",
    "usage: crawler <command> [flags]",
    "",
    "commands:",
    ...COMMANDS.map((name) => `  ${name.padEnd(8)}${SUMMARY[name]}`),
    "",
    "flags:",
    "  --help      show the flags of a command with their defaults: crawler <command> --help",
    "  --version   print the version",
    "",
    "The API token comes from CRAWLER_TOKEN or the config's auth.token.",
  ];
  return lines.join("\n");
}

/** A fresh commander command for `role` (commander keeps parsed values on the command). */
function commandOf(role: CommandName): Command {
  const command = new Command(role)
    .usage("[flags]")
    .description(SUMMARY[role])
    .helpOption("-h, --help", "show this help")
    .allowExcessArguments(false)
    .showSuggestionAfterError(true);
  command.name(`crawler ${role}`);
  for (const [name, spec] of Object.entries(FLAGS[role])) {
    const value = spec.kind === "bool" ? ` [${spec.value}]` : ` <${spec.value}>`;
    const option = new Option(`--${name}${value}`, `${spec.help} (default: ${spec.default})`);
    command.addOption(option);
  }
  return command;
}

function commanderFailure(
  role: CommandName,
  error: CommanderError,
  args: readonly string[],
): Error {
  const message = error.message.replace(/^error: /, "");
  const flag = /'(--?[^' =]+)/.exec(message)?.[1];
  if (error.code === "commander.unknownOption" && flag) {
    const known = Object.keys(FLAGS[role]).map((k) => `--${k}`).join(", ");
    return new ConfigError(
      flag,
      `unknown flag for "crawler ${role}" (known: ${known}; see crawler ${role} --help)`,
      { cause: error },
    );
  }
  if (error.code === "commander.optionMissingArgument" && flag) {
    return new ConfigError(flag, "expected a value", { cause: error });
  }
  if (error.code === "commander.excessArguments") {
    const stray = args.find((a) => !a.startsWith("-")) ?? args.at(-1) ?? role;
    return new ConfigError(stray, `unexpected argument for "crawler ${role}"`, { cause: error });
  }
  return new ConfigError(flag ?? role, message, { cause: error });
}

function convertAll(role: CommandName, values: Record<string, unknown>): Record<string, unknown> {
  const flags: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(FLAGS[role])) {
    const value = values[name];
    if (value === undefined) continue;
    flags[name] = convert(name, spec.kind, value === true ? "true" : String(value));
  }
  return flags;
}

function convert(name: string, kind: FlagKind, value: string): unknown {
  switch (kind) {
    case "string":
      if (value === "") throw new ConfigError(`--${name}`, "expected a non-empty value");
      return value;
    case "bool":
      if (value === "true") return true;
      if (value === "false") return false;
      throw new ConfigError(`--${name}`, `expected true or false, got "${value}"`);
    case "address":
      return parseListenAddress(value, `--${name}`);
    case "format":
      if (!EXPORT_FORMATS.includes(value as ExportFormat)) {
        throw new ConfigError(
          `--${name}`,
          `expected ${EXPORT_FORMATS.join(" or ")}, got "${value}"`,
        );
      }
      return value;
    case "date": {
      const date = parseSince(value);
      if (!date) {
        throw new ConfigError(
          `--${name}`,
          `expected an ISO 8601 date like 2026-01-02 or 2026-01-02T03:04:05Z, got "${value}"`,
        );
      }
      return date;
    }
    case "fields": {
      const fields = parseFields(value);
      if (!fields) {
        throw new ConfigError(`--${name}`, `expected column names like a,b, got "${value}"`);
      }
      return fields;
    }
    case "endpoints": {
      const endpoints = value.split(",").map((s) => s.trim()).filter(Boolean);
      if (endpoints.length === 0) {
        throw new ConfigError(`--${name}`, "expected HOST:PORT[,HOST:PORT]");
      }
      for (const endpoint of endpoints) parseHostPort(endpoint, `--${name}`);
      return endpoints;
    }
  }
}

/** Parses `:PORT` or `HOST:PORT` (also `[::1]:PORT`). */
export function parseListenAddress(value: string, key: string): ListenAddress {
  const match = /^(\[[^\]]+\]|[^:]*):(\d{1,5})$/.exec(value.trim());
  const port = match ? Number(match[2]) : NaN;
  if (!match || port > 65535) {
    throw new ConfigError(key, `expected :PORT or HOST:PORT, got "${value}"`);
  }
  return { host: match[1].replace(/^\[|\]$/g, ""), port };
}

/** Parses `HOST:PORT` where the host is required. */
export function parseHostPort(value: string, key: string): { host: string; port: number } {
  const address = parseListenAddress(value.replace(/^https?:\/\//, ""), key);
  if (!address.host) throw new ConfigError(key, `expected HOST:PORT, got "${value}"`);
  return address;
}
