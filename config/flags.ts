/**
 * @module
 * Command-line flags of the three roles. `--flag=value` and `--flag value` both work; a bad
 * flag is a `ConfigError` naming it (the CLI exits 2).
 */
import { ConfigError } from "./config_error.ts";

export type Role = "master" | "worker" | "dev";

export interface Flags {
  id?: string;
  http?: ListenAddress;
  grpc?: ListenAddress;
  etcd?: string[];
  advertise?: string;
  config?: string;
  cluster?: boolean;
}

/** A listen address from `:PORT` or `HOST:PORT`. An empty host means every interface. */
export interface ListenAddress {
  host: string;
  port: number;
}

type FlagKind = "string" | "address" | "bool" | "endpoints";

const ROLE_FLAGS: Record<Role, Record<string, FlagKind>> = {
  master: {
    id: "string",
    http: "address",
    grpc: "address",
    etcd: "endpoints",
    advertise: "string",
    config: "string",
  },
  worker: {
    id: "string",
    http: "address",
    grpc: "address",
    etcd: "endpoints",
    advertise: "string",
    config: "string",
    cluster: "bool",
  },
  dev: { http: "address", config: "string" },
};

/** Parses the flags that follow the role name. */
export function parseFlags(role: Role, args: readonly string[]): Flags {
  const known = ROLE_FLAGS[role];
  const flags: Record<string, unknown> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const match = /^--?([a-zA-Z][\w-]*)(?:=(.*))?$/s.exec(arg);
    if (!match) throw new ConfigError(arg, `unexpected argument for "crawler ${role}"`);
    const [, name, inline] = match;
    const kind = known[name];
    if (!kind) {
      throw new ConfigError(
        `--${name}`,
        `unknown flag for "crawler ${role}" (known: ${
          Object.keys(known).map((k) => `--${k}`).join(", ")
        })`,
      );
    }
    let value = inline;
    if (value === undefined) {
      const next = args[i + 1];
      if (kind === "bool" && (next === undefined || !/^(true|false)$/.test(next))) {
        value = "true";
      } else if (next === undefined || next.startsWith("--")) {
        throw new ConfigError(`--${name}`, "expected a value");
      } else {
        value = next;
        i++;
      }
    }
    flags[name] = convert(name, kind, value);
  }
  return flags as Flags;
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
