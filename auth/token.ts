/**
 * @module
 * The API token (docs/operating.md, "Auth"): where it comes from, how a presented one is checked,
 * and how a client sends it.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { ConfigError } from "../errors/mod.ts";
import type { Config } from "../config/config_schema.ts";

/** The environment variable that holds the token; it wins over the config's `auth.token`. */
export const TOKEN_ENV = "CRAWLER_TOKEN";

/**
 * The token this process requires and sends: `CRAWLER_TOKEN` when set and not empty, else the
 * config's `auth.token`, else undefined (no auth). A token with white space could never be sent
 * in a header: it is a `ConfigError` naming its source (without the token).
 */
export function resolveToken(
  config: Pick<Config, "auth">,
  env: { get(name: string): string | undefined } = Deno.env,
): string | undefined {
  const fromEnv = env.get(TOKEN_ENV);
  const [token, source] = fromEnv !== undefined && fromEnv !== ""
    ? [fromEnv, TOKEN_ENV]
    : [config.auth.token, "auth.token"];
  // deno-lint-ignore no-control-regex -- control characters are exactly what is refused
  if (token !== undefined && /[\s\x00-\x1f\x7f]/.test(token)) {
    throw new ConfigError(source, "must be one word: no spaces, newlines or control characters");
  }
  return token;
}

/**
 * The token in an `Authorization: Bearer <token>` header value, or undefined when the header is
 * missing or not a bearer credential.
 */
export function bearerToken(header: string | null | undefined): string | undefined {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? "");
  return match?.[1];
}

/**
 * Whether `presented` is `expected`, compared in constant time: both are hashed first, so neither
 * the content nor the length of the right token shows in how long a wrong guess takes.
 */
export function tokenMatches(presented: string | undefined, expected: string): boolean {
  if (presented === undefined) return false;
  const digest = (value: string) => createHash("sha256").update(value, "utf8").digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

/**
 * The header a client sends, for `fetch` (and the dashboard's page script):
 *
 * @example
 * ```ts
 * await fetch(url, { headers: authHeaders(token) }); // {} when token is undefined
 * ```
 */
export function authHeaders(token: string | undefined): Record<string, string> {
  return token === undefined ? {} : { Authorization: `Bearer ${token}` };
}
