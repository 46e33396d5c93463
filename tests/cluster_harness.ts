/**
 * @module
 * Helpers for multi-process tests: `crawler master` and `crawler worker` child processes on
 * free loopback ports, HTTP calls with deadlines, and bounded waits.
 */
import assert from "node:assert/strict";
import { authHeaders } from "../auth/token.ts";
import { type CrawlerRunOptions, spawnCrawler } from "./cli.ts";

/** A free TCP port on 127.0.0.1 (closed again before it is returned). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

/** A `crawler` child process and every line it printed. */
export class CrawlerProcess {
  readonly logs: string[] = [];
  readonly child: Deno.ChildProcess;
  readonly #drained: Promise<unknown>;
  #stopped: Promise<Deno.CommandStatus> | undefined;

  /** The API token the process was started with (`CRAWLER_TOKEN`), if any. */
  readonly token: string | undefined;

  constructor(
    readonly httpPort: number,
    readonly grpcPort: number,
    args: string[],
    options: CrawlerRunOptions = {},
  ) {
    this.token = options.token;
    this.child = spawnCrawler(args, options);
    this.#drained = Promise.all([
      collectLines(this.child.stderr, this.logs),
      collectLines(this.child.stdout, this.logs),
    ]);
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
}

/** The flags of a cluster role on two free loopback ports, advertising 127.0.0.1. */
function roleArgs(role: "master" | "worker", n: number, etcd: string, config: string) {
  const http = freePort();
  const grpc = freePort();
  const args = [
    role,
    `--id=${n}`,
    `--http=127.0.0.1:${http}`,
    `--grpc=127.0.0.1:${grpc}`,
    `--etcd=${etcd}`,
    "--advertise=127.0.0.1",
    `--config=${config}`,
  ];
  return [http, grpc, args] as const;
}

/** `crawler master --id=n` on free ports against `etcdEndpoint`. */
export class MasterProcess extends CrawlerProcess {
  readonly id: string;

  constructor(
    readonly n: number,
    etcdEndpoint: string,
    configPath: string,
    options: CrawlerRunOptions = {},
  ) {
    super(...roleArgs("master", n, etcdEndpoint, configPath), options);
    this.id = `master${n}-127.0.0.1:${this.grpcPort}`;
  }
}

/** `crawler worker --id=n` (cluster mode) on free ports against `etcdEndpoint`. */
export class WorkerProcess extends CrawlerProcess {
  readonly id: string;

  constructor(
    readonly n: number,
    etcdEndpoint: string,
    configPath: string,
    name = "crawler.worker",
    options: CrawlerRunOptions = {},
  ) {
    super(...roleArgs("worker", n, etcdEndpoint, configPath), options);
    this.id = `${name}-${n}`;
  }
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
 * One HTTP request with a deadline; the body is always read, so nothing leaks. `token` is sent
 * as `Authorization: Bearer <token>`.
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

/**
 * Polls `predicate` every 50 ms until it is true, failing after `timeoutMs`. A failed
 * assertion inside it is final; any other error (a process not listening yet) is retried.
 */
export async function waitUntil(
  what: string,
  timeoutMs: number,
  predicate: () => Promise<boolean> | boolean,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    try {
      if (await predicate()) return;
    } catch (error) {
      if (error instanceof assert.AssertionError) throw error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The leader every live master reports, once they all agree. */
export async function agreedLeader(masters: MasterProcess[]): Promise<MasterProcess> {
  let leader: MasterProcess | undefined;
  await waitUntil("all masters to agree on a leader", 20_000, async () => {
    const answers = await Promise.all(masters.map((m) => m.request("/crawler/leader")));
    const ids = new Set(answers.map((a) => a.body.leader));
    const leading = answers.filter((a) => a.body.isLeader === true);
    if (ids.size !== 1 || leading.length !== 1) return false;
    leader = masters.find((m) => m.id === leading[0].body.self);
    return leader !== undefined && leader.id === [...ids][0];
  });
  return leader!;
}

/** Prints the last log lines of each process: what explains a failed multi-process run. */
export function dumpLogs(processes: Array<CrawlerProcess & { id: string }>, lines = 40): void {
  for (const p of processes) {
    console.error(`--- last log lines of ${p.id} ---\n${p.logs.slice(-lines).join("\n")}`);
  }
}
