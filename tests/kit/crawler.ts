/**
 * @module
 * `crawler master`, `crawler worker` and `crawler dev` child processes that are listening when
 * they are handed over, HTTP calls to them with deadlines, and what explains a failed run: their
 * logs.
 *
 * Ports are bound race-free: a master listens on port 0 and its "master started" line says
 * which ports it got. A worker and dev cannot (the worker registers the address it was given
 * before it listens), so their ports are picked here; if another process took one meanwhile,
 * the process exits saying it cannot listen, and it is started again on other ports.
 */
import { authHeaders } from "../../auth/token.ts";
import { type CrawlerRunOptions, spawnCrawler } from "./cli.ts";
import { freePort, restartablePort } from "./ports.ts";
import { waitFor } from "./wait.ts";

/** What a `crawler` process is. */
export type Role = "master" | "worker" | "dev";

/** One JSON line of a process's log. */
export interface LogRecord {
  level: string;
  ts: string;
  msg: string;
  logger?: string;
  [field: string]: unknown;
}

/** A `crawler` child process and every line it printed. */
export class CrawlerProcess {
  readonly logs: string[] = [];
  readonly child: Deno.ChildProcess;
  /** The API token the process was started with (`CRAWLER_TOKEN`), if any. */
  readonly token: string | undefined;
  /** Its id in the cluster: `master1-127.0.0.1:<grpc port>`, `crawler.worker-1`; set once it listens. */
  id = "";
  httpPort = 0;
  grpcPort = 0;
  readonly #drained: Promise<unknown>;
  #stopped: Promise<Deno.CommandStatus> | undefined;
  #status: Deno.CommandStatus | undefined;

  constructor(
    readonly role: Role,
    /** The `--id` it was started with (1 for dev). */
    readonly n: number,
    args: string[],
    options: CrawlerRunOptions = {},
  ) {
    this.token = options.token;
    this.child = spawnCrawler(args, options);
    this.child.status.then((status) => this.#status = status);
    this.#drained = Promise.all([
      collectLines(this.child.stderr, this.logs),
      collectLines(this.child.stdout, this.logs),
    ]);
  }

  /** How it exited, once it has. */
  get exited(): Deno.CommandStatus | undefined {
    return this.#status;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.httpPort}${path}`;
  }

  /** An HTTP request to this process, carrying its token when it has one. */
  request(
    path: string,
    init: RequestInit & { json?: unknown } = {},
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    return http(this.url(path), { token: this.token, ...init });
  }

  /** The JSON lines of its log, or those whose `msg` is `msg` (and `logger`, if given). */
  records(msg?: string, logger?: string): LogRecord[] {
    const records: LogRecord[] = [];
    for (const line of this.logs) {
      if (!line.startsWith("{")) continue;
      let record: LogRecord;
      try {
        record = JSON.parse(line);
      } catch {
        continue; // not a log record
      }
      if (msg !== undefined && record.msg !== msg) continue;
      if (logger !== undefined && record.logger !== logger) continue;
      records.push(record);
    }
    return records;
  }

  /** Sends `signal` (if the process still runs) and waits for it and its output. */
  stop(signal: Deno.Signal = "SIGKILL"): Promise<Deno.CommandStatus> {
    try {
      this.child.kill(signal);
    } catch (error) {
      if (!(error instanceof TypeError)) throw error; // already exited
    }
    this.#stopped ??= Promise.all([this.child.status, this.#drained]).then(([status]) => status);
    return this.#stopped;
  }

  /** Waits for its "listening" line (`msg`); undefined when it exits first. */
  async listening(msg: string, timeoutMs = 30_000): Promise<LogRecord | undefined> {
    const found = await waitFor(() => this.exited ? "exited" : this.records(msg)[0], {
      what: `crawler ${this.role} ${this.n} to log "${msg}"`,
      timeoutMs,
    });
    return found === "exited" ? undefined : found;
  }
}

/** Options for {@linkcode startMaster} and {@linkcode startWorker}. */
export interface RoleOptions extends CrawlerRunOptions {
  /** The `--id`. Default 1. */
  n?: number;
  /** The etcd endpoint, `127.0.0.1:<port>`. */
  etcd: string;
  /** The config file. */
  config: string;
  /** The interface to listen on. Default 127.0.0.1. */
  host?: string;
  /** More flags. */
  args?: string[];
}

/**
 * `crawler master --id=n` on ports it picks itself, advertising 127.0.0.1; resolves once it
 * listens, with its id and ports read from its "master started" line.
 */
export function startMaster(options: RoleOptions): Promise<CrawlerProcess> {
  const n = options.n ?? 1;
  const host = options.host ?? "127.0.0.1";
  return launch("master", n, () => [
    "master",
    `--id=${n}`,
    `--http=${host}:0`,
    `--grpc=127.0.0.1:0`,
    `--etcd=${options.etcd}`,
    "--advertise=127.0.0.1",
    `--config=${options.config}`,
    ...options.args ?? [],
  ], options);
}

/**
 * `crawler worker --id=n` (cluster mode) on free ports, advertising 127.0.0.1; resolves once it
 * listens (registering comes after).
 */
export function startWorker(options: RoleOptions): Promise<CrawlerProcess> {
  const n = options.n ?? 1;
  const host = options.host ?? "127.0.0.1";
  return launch("worker", n, () => [
    "worker",
    `--id=${n}`,
    `--http=${host}:${freePort()}`,
    `--grpc=127.0.0.1:${freePort()}`,
    `--etcd=${options.etcd}`,
    "--advertise=127.0.0.1",
    `--config=${options.config}`,
    ...options.args ?? [],
  ], options);
}

/**
 * `crawler dev` in `cwd` on a free port (or on `port`: to start it again where it was);
 * resolves once it listens.
 */
export function startDev(
  options: CrawlerRunOptions & { cwd: string; port?: number; args?: string[] },
): Promise<CrawlerProcess> {
  return launch("dev", 1, () => [
    "dev",
    `--http=127.0.0.1:${options.port ?? restartablePort()}`,
    ...options.args ?? [],
  ], options);
}

/** Starts a process until it listens: again on other ports when it could not bind its own. */
async function launch(
  role: Role,
  n: number,
  args: () => string[],
  options: CrawlerRunOptions,
): Promise<CrawlerProcess> {
  const msg = role === "worker" ? "worker listening" : "master started";
  for (let attempt = 1;; attempt++) {
    const process = new CrawlerProcess(role, n, args(), options);
    const record = await process.listening(msg).catch(async (error) => {
      await process.stop("SIGKILL");
      throw error;
    });
    if (record) {
      process.httpPort = portOf(String(record.http));
      process.grpcPort = portOf(String(record.grpc));
      process.id = role === "worker" ? String(record.worker) : String(record.id);
      return process;
    }
    const status = await process.stop("SIGKILL");
    const clash = process.logs.some((line) => line.includes("cannot listen"));
    if (!clash || attempt === 5) {
      throw new Error(
        `crawler ${role} ${n} exited with code ${status.code} before listening:\n` +
          process.logs.slice(-30).join("\n"),
      );
    }
  }
}

function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(":") + 1));
}

async function collectLines(stream: ReadableStream<Uint8Array>, into: string[]): Promise<void> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const lines = (rest + chunk).split("\n");
    rest = lines.pop() ?? "";
    into.push(...lines);
  }
  if (rest) into.push(rest);
}

/**
 * One HTTP request with a 5 s deadline; the body is always read, so nothing leaks. `json` is
 * sent as the body; `token` as `Authorization: Bearer <token>`.
 */
export async function http(
  url: string,
  init: RequestInit & { json?: unknown; token?: string } = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const { json, token, ...rest } = init;
  const body = json === undefined ? rest.body : JSON.stringify(json);
  const headers = new Headers(rest.headers);
  for (const [name, value] of Object.entries(authHeaders(token))) headers.set(name, value);
  const response = await fetch(url, {
    ...rest,
    headers,
    body,
    signal: AbortSignal.timeout(5000),
  });
  const text = await response.text();
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = { text };
  }
  return { status: response.status, body: parsed };
}

/** The leader every one of `masters` reports, once they all agree. */
export function agreedLeader(
  masters: CrawlerProcess[],
  timeoutMs = 20_000,
): Promise<CrawlerProcess> {
  return waitFor(async () => {
    const answers = await Promise.all(masters.map((m) => m.request("/crawler/leader")));
    const ids = new Set(answers.map((a) => a.body.leader));
    const leading = answers.filter((a) => a.body.isLeader === true);
    if (ids.size !== 1 || leading.length !== 1) return undefined;
    const leader = masters.find((m) => m.id === leading[0].body.self);
    return leader?.id === [...ids][0] ? leader : undefined;
  }, { what: `${masters.length} masters to agree on a leader`, timeoutMs });
}

/** Prints the last log lines of each process: what explains a failed multi-process run. */
export function dumpLogs(processes: Iterable<CrawlerProcess>, lines = 40): void {
  for (const p of processes) {
    // How it ended, if it has: a process that died without a word (a native crash) says so here.
    const status = p.exited;
    const ended = status === undefined
      ? "running"
      : `exited with code ${status.code}${status.signal ? ` (${status.signal})` : ""}`;
    console.error(
      `--- last log lines of ${p.id || `${p.role} ${p.n}`} (${ended}) ---\n` +
        p.logs.slice(-lines).join("\n"),
    );
  }
}
