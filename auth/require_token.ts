/**
 * @module
 * The HTTP side of the API token: one Hono middleware for the master's and the worker's apps.
 */
import type { MiddlewareHandler } from "hono";
import { UnauthenticatedError } from "../errors/mod.ts";
import { bearerToken, tokenMatches } from "./token.ts";

/** Paths every process serves without a token: probes carry nothing worth protecting. */
export const PROBE_PATHS: readonly string[] = ["/healthz", "/readyz"];

/** Options for {@linkcode requireToken}. */
export interface RequireTokenOptions {
  /** The token to require; undefined turns the check off (loopback or `--insecure`). */
  token: string | undefined;
  /** Paths served without a token. Default: {@linkcode PROBE_PATHS}. */
  publicPaths?: Iterable<string>;
}

/**
 * Rejects a request whose `Authorization: Bearer <token>` is missing or wrong by throwing
 * `UnauthenticatedError`, which the app's `onError` maps to 401 `{"error": …}` through the one
 * table in `errors/error_reply.ts`.
 *
 * @example
 * ```ts
 * app.use("*", requireToken({ token, publicPaths: [...PROBE_PATHS, "/metrics"] }));
 * ```
 */
export function requireToken(options: RequireTokenOptions): MiddlewareHandler {
  const { token } = options;
  const open = new Set(options.publicPaths ?? PROBE_PATHS);
  return async (c, next) => {
    if (token !== undefined && !open.has(c.req.path)) {
      if (!tokenMatches(bearerToken(c.req.header("authorization")), token)) {
        throw new UnauthenticatedError();
      }
    }
    await next();
  };
}
