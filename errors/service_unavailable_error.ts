/**
 * A service a config key names (a results database, a frontier) cannot be reached at start.
 * `key` names the config key; the CLI prints the message and exits 1 (a bad value is a
 * `ConfigError`, exit 2).
 */
export class ServiceUnavailableError extends Error {
  constructor(readonly key: string, message: string, options?: ErrorOptions) {
    super(`${key}: ${message}`, options);
    this.name = "ServiceUnavailableError";
  }
}
