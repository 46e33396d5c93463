/**
 * @module
 * Whether a process may start without a token: only when every listener is on loopback, or
 * when the operator said `--insecure`.
 */
import { ConfigError } from "../errors/mod.ts";
import type { ListenAddress } from "../config/flags.ts";
import type { Logger } from "../log/logger.ts";
import { TOKEN_ENV } from "./token.ts";

/** A listener of the process, with the flag or key that chose it (for the message). */
export interface NamedListener {
  address: ListenAddress;
  source: string;
}

/** Options for {@linkcode checkListenPolicy}. */
export interface ListenPolicyOptions {
  /** The token in force, if any. */
  token: string | undefined;
  /** `--insecure`: serve without a token on any address, with a warning. */
  insecure: boolean;
  /** The role, for the message (`master`, `worker`, `dev`). */
  role: string;
  logger: Logger;
}

/** True for an address only this machine can reach: 127.0.0.0/8, ::1, localhost. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "").toLowerCase();
  return bare === "localhost" || bare === "::1" || /^127(\.\d{1,3}){3}$/.test(bare);
}

/**
 * Throws `ConfigError` (the CLI exits 2) when there is no token, `insecure` is off, and a
 * listener is reachable from other machines. With `insecure`, logs a warning instead.
 */
export function checkListenPolicy(
  listeners: readonly NamedListener[],
  options: ListenPolicyOptions,
): void {
  if (options.token !== undefined) return;
  const exposed = listeners.filter((l) => !isLoopback(l.address.host));
  if (exposed.length === 0) return;
  const where = exposed.map((l) => `${l.address.host || "0.0.0.0"}:${l.address.port} (${l.source})`)
    .join(", ");
  if (options.insecure) {
    options.logger.warn(
      "INSECURE: no API token and listening beyond loopback: anyone who reaches these ports " +
        "can add and delete tasks",
      { role: options.role, listeners: where },
    );
    return;
  }
  throw new ConfigError(
    "auth.token",
    `not set, and crawler ${options.role} would listen on ${where}, beyond loopback. ` +
      `Set auth.token in the config or ${TOKEN_ENV} in the environment, listen on ` +
      `127.0.0.1 only, or pass --insecure to serve without a token`,
  );
}
