/**
 * @module
 * The failure of a statement because its database is away (stopped, restarting, refusing
 * connections), as opposed to one the database refused. Work that met it may be tried again
 * later. Its type decides how loud the waiting is: the pools log each outage once
 * (`PostgresPools`), so whoever waits it out says so at info.
 */
import type { LogFields, Logger } from "../log/logger.ts";

/** A database could not be reached; `cause` is the client's error, `code` its code. */
export class DatabaseUnavailableError extends Error {
  /** The client's or the network's code (`ECONNREFUSED`, `57P03`…), if it had one. */
  readonly code: string | undefined;

  /** `options.cause` is the client's error; its `code` is kept. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DatabaseUnavailableError";
    const code = (options?.cause as { code?: unknown } | undefined)?.code;
    this.code = typeof code === "string" ? code : undefined;
  }
}

/**
 * Logs that work failed and waits: at info when the cause is a database being away (its outage
 * is logged once elsewhere), at warn otherwise.
 *
 * @example
 * ```ts
 * logWaiting(logger, "claiming from the frontier failed; retrying", { task, error });
 * ```
 */
export function logWaiting(
  logger: Logger,
  msg: string,
  fields: LogFields & { error: unknown },
): void {
  if (fields.error instanceof DatabaseUnavailableError) logger.info(msg, fields);
  else logger.warn(msg, fields);
}
