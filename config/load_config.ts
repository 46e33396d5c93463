/**
 * @module
 * Reads and validates the TOML config file.
 */
import { parse as parseToml } from "smol-toml";
import { type Config, configSchema } from "./config_schema.ts";
import { ConfigError } from "./config_error.ts";

/**
 * Parses config text. Throws `ConfigError` naming the first bad key, e.g.
 * `Tasks[0].MaxDepth: expected number, received string`.
 */
export function parseConfig(text: string, source = "config"): Config {
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (error) {
    throw new ConfigError(source, `not valid TOML: ${(error as Error).message}`, {
      cause: error,
    });
  }
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
  options: { required?: boolean } = {},
): Promise<Config> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound && !options.required) return parseConfig("", path);
    throw new ConfigError("--config", `cannot read ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return parseConfig(text, path);
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) {
    out += typeof part === "number" ? `[${part}]` : out ? `.${String(part)}` : String(part);
  }
  return out;
}
