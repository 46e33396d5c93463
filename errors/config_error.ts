/** A bad flag or config value. `key` names the flag or config key; the CLI exits 2 on it. */
export class ConfigError extends Error {
  constructor(readonly key: string, message: string, options?: ErrorOptions) {
    super(`${key}: ${message}`, options);
    this.name = "ConfigError";
  }
}
