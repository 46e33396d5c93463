/**
 * @module
 * Config files for `crawler` child processes, written from objects: the keys of `config.toml`
 * (config/config_schema.ts), type-checked, turned into TOML by smol-toml.
 */
import { stringify } from "smol-toml";
import type { z } from "zod";
import type { configSchema } from "../../config/config_schema.ts";

/** What a config file holds, as an object: every key optional, defaults applied on load. */
export type ConfigInput = z.input<typeof configSchema>;

/**
 * Writes `config` as TOML to `path` and returns `path`.
 *
 * @example
 * ```ts
 * const path = await writeConfig(`${dir}/worker.toml`, {
 *   storage: { sqlURL: `sqlite:${dir}/items.db` },
 *   Tasks: [{ Name: "books", Rule: "douban_book_list", URL: site.url }],
 * });
 * ```
 */
export async function writeConfig(path: string, config: ConfigInput): Promise<string> {
  await Deno.writeTextFile(path, configText(config));
  return path;
}

/** `config` as the TOML text of a config file (for `parseConfig` in-process). */
export function configText(config: ConfigInput): string {
  return stringify(config);
}

/**
 * The configs merged left to right: sections (plain objects) are merged key by key, anything
 * else (a value, a list such as `Tasks` or `fetcher.proxy`) is replaced by the later one.
 */
export function mergeConfig(...configs: ConfigInput[]): ConfigInput {
  return configs.reduce((into, config) => merge(into, config) as ConfigInput, {});
}

function merge(into: unknown, over: unknown): unknown {
  if (!isSection(into) || !isSection(over)) return over === undefined ? into : over;
  const merged: Record<string, unknown> = { ...into };
  for (const [key, value] of Object.entries(over)) merged[key] = merge(merged[key], value);
  return merged;
}

function isSection(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
