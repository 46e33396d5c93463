/**
 * @module
 * Reads and validates the TOML config file.
 */
import { parse as parseToml } from "smol-toml";
import { type Config, configSchema } from "./config_schema.ts";
import { ConfigError } from "../errors/mod.ts";
import { findUnknownKeys, type UnknownKey } from "./unknown_keys.ts";

/** Options of {@linkcode parseConfig} and {@linkcode loadConfig}. */
export interface ConfigOptions {
  /** Called with each key the schema does not know (the CLI logs a warning for each). */
  onUnknownKey?: (key: UnknownKey) => void;
}

/**
 * Parses config text. Throws `ConfigError` naming the first bad key, e.g.
 * `Tasks[0].MaxDepth: expected number, received string`.
 */
export function parseConfig(
  text: string,
  source = "config",
  options: ConfigOptions = {},
): Config {
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (error) {
    throw new ConfigError(source, `not valid TOML: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (options.onUnknownKey) findUnknownKeys(configSchema, raw).forEach(options.onUnknownKey);
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new ConfigError(formatPath(issue.path) || source, issue.message);
  }
  return result.data;
}

/**
 * Loads the config file at `path`. When `required` is false and the file does not exist,
 * returns the defaults (an empty config), so `crawler dev` works with no file at all.
 */
export async function loadConfig(
  path: string,
  options: ConfigOptions & { required?: boolean } = {},
): Promise<Config> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound && !options.required) {
      return parseConfig("", path, options);
    }
    throw new ConfigError("--config", `cannot read ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return parseConfig(text, path, options);
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) {
    out += typeof part === "number" ? `[${part}]` : out ? `.${String(part)}` : String(part);
  }
  return out;
}
