/**
 * @module
 * A small structured logger: one JSON line per record on stderr, like the Go project's zap
 * output. Passed in as a dependency; `child` names a component.
 */

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger whose records carry `name` (joined with dots under a parent's name). */
  child(name: string): Logger;
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export interface LoggerOptions {
  /** Records below this level are dropped. Default "info". */
  level?: LogLevel;
  name?: string;
  /** Where lines go. Default: stderr. */
  write?: (line: string) => void;
}

/** Creates a logger. Errors in fields are serialised with their message and cause. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const min = RANK[options.level ?? "info"];
  const encoder = new TextEncoder();
  const write = options.write ?? ((line: string) => {
    Deno.stderr.writeSync(encoder.encode(line + "\n"));
  });
  const make = (name: string | undefined): Logger => {
    const log = (level: LogLevel) => (msg: string, fields?: LogFields) => {
      if (RANK[level] < min) return;
      const record: LogFields = { level: level.toUpperCase(), ts: new Date().toISOString() };
      if (name) record.logger = name;
      record.msg = msg;
      if (fields) { for (const [k, v] of Object.entries(fields)) record[k] = serialise(v); }
      write(JSON.stringify(record));
    };
    return {
      debug: log("debug"),
      info: log("info"),
      warn: log("warn"),
      error: log("error"),
      child: (child) => make(name ? `${name}.${child}` : child),
    };
  };
  return make(options.name);
}

/** A logger that drops everything (tests). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silentLogger,
};

function serialise(value: unknown): unknown {
  if (value instanceof Error) {
    const out: LogFields = { name: value.name, message: value.message };
    if (value.cause !== undefined) out.cause = serialise(value.cause);
    return out;
  }
  return value;
}
