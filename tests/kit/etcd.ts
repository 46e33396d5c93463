/**
 * @module
 * A real etcd for tests: a single-member cluster on free loopback ports with a temporary data
 * directory, which tests can stop, restart (same ports, same data) and dispose of.
 */
import { restartablePort } from "./ports.ts";
import { waitFor } from "./wait.ts";

/** Options for {@linkcode startEtcd}. */
export interface StartEtcdOptions {
  /** How long to wait for etcd to answer after a (re)start. Default: 15000 ms. */
  readyTimeoutMs?: number;
}

/** A running (or stopped) etcd started by {@linkcode startEtcd}. */
export interface EtcdServer {
  /** `127.0.0.1:<client port>`, for the store's `endpoints`. */
  readonly endpoint: string;
  /** The client URL, `http://127.0.0.1:<client port>`. */
  readonly clientUrl: string;
  /** The data directory (kept across `stop()`/`restart()`, removed by `dispose()`). */
  readonly dataDir: string;
  /** Whether the etcd process is running. */
  readonly running: boolean;
  /** Kills etcd (SIGKILL, like a crash) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts etcd again on the same ports with the same data, and waits until it answers. */
  restart(): Promise<void>;
  /** Kills etcd if it runs and removes the data directory. Safe to call twice. */
  dispose(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Starts etcd (the `etcd` binary on PATH) on free loopback ports and waits until it answers.
 *
 * @example
 * ```ts
 * await using etcd = await startEtcd();
 * const store = await openEtcdStore({ endpoints: [etcd.endpoint] });
 * ```
 */
export async function startEtcd(options: StartEtcdOptions = {}): Promise<EtcdServer> {
  const readyTimeoutMs = options.readyTimeoutMs ?? 15_000;
  await assertEtcdInstalled();
  // etcd cannot listen on port 0 and tell us the port, so the ports are picked here and
  // released before etcd binds them: another process may take one meanwhile. Then etcd exits
  // with "address already in use", and it is started again on other ports. Below the ephemeral
  // range, so that no connection takes them while a test has etcd stopped.
  for (let attempt = 1;; attempt++) {
    const clientPort = restartablePort();
    let peerPort = restartablePort();
    while (peerPort === clientPort) peerPort = restartablePort();
    const dataDir = await Deno.makeTempDir({ prefix: "crawler_etcd_" });
    const server = new TestEtcd(clientPort, peerPort, dataDir, readyTimeoutMs);
    try {
      await server.restart();
      return server;
    } catch (error) {
      await server.dispose();
      if (!(error instanceof PortTakenError) || attempt === 5) throw error;
    }
  }
}

/** etcd could not bind a port picked for it. */
class PortTakenError extends Error {}

class TestEtcd implements EtcdServer {
  readonly endpoint: string;
  readonly clientUrl: string;
  #child: Deno.ChildProcess | undefined;
  #disposed = false;

  constructor(
    readonly clientPort: number,
    readonly peerPort: number,
    readonly dataDir: string,
    readonly readyTimeoutMs: number,
  ) {
    this.endpoint = `127.0.0.1:${clientPort}`;
    this.clientUrl = `http://${this.endpoint}`;
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  get #logFile(): string {
    return `${this.dataDir}/etcd.log`;
  }

  async restart(): Promise<void> {
    if (this.#disposed) throw new Error("etcd server is disposed");
    if (this.#child) await this.stop();
    const peerUrl = `http://127.0.0.1:${this.peerPort}`;
    const child = new Deno.Command("etcd", {
      args: [
        "--name=test",
        `--data-dir=${this.dataDir}/data`,
        `--listen-client-urls=${this.clientUrl}`,
        `--advertise-client-urls=${this.clientUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=test=${peerUrl}`,
        "--initial-cluster-state=new",
        // Short raft timings make a one-member cluster ready sooner and lower etcd's minimum
        // lease TTL (1.5 election timeouts) so tests can use 1-2 s TTLs.
        "--heartbeat-interval=50",
        "--election-timeout=250",
        "--logger=zap",
        "--log-level=warn",
        `--log-outputs=${this.#logFile}`,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    this.#child = child;
    try {
      await this.#waitReady(child);
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = undefined;
    try {
      child.kill("SIGKILL");
    } catch (error) {
      // Already exited: nothing to kill, the status below still has to be awaited.
      if (!(error instanceof TypeError)) throw error;
    }
    await child.status;
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await this.stop();
    await Deno.remove(this.dataDir, { recursive: true }).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }

  async #waitReady(child: Deno.ChildProcess): Promise<void> {
    let exited: Deno.CommandStatus | undefined;
    child.status.then((status) => exited = status);
    try {
      await waitFor(async () => {
        if (exited) return true;
        const response = await fetch(`${this.clientUrl}/health`, {
          signal: AbortSignal.timeout(1000),
        });
        const body = await response.text();
        if (response.ok && body.includes('"health":"true"')) return true;
        throw new Error(`health answered ${response.status}: ${body}`);
      }, { what: `etcd to answer on ${this.clientUrl}`, timeoutMs: this.readyTimeoutMs });
    } catch (error) {
      throw new Error(`${(error as Error).message}; log:\n${await this.#logTail()}`, {
        cause: error,
      });
    }
    if (exited) {
      const log = await this.#logTail();
      const Failure = log.includes("address already in use") ? PortTakenError : Error;
      throw new Failure(`etcd exited with code ${exited.code} while starting; log:\n${log}`);
    }
  }

  async #logTail(): Promise<string> {
    try {
      const log = await Deno.readTextFile(this.#logFile);
      return log.split("\n").slice(-20).join("\n");
    } catch (error) {
      return `(no log: ${error})`;
    }
  }
}

async function assertEtcdInstalled(): Promise<void> {
  try {
    const output = await new Deno.Command("etcd", { args: ["--version"], stdout: "null" })
      .output();
    if (!output.success) throw new Error(`etcd --version exited with code ${output.code}`);
  } catch (error) {
    throw new Error(
      "these tests need a real etcd: install it (Debian: apt-get install etcd-server) so that " +
        "`etcd` is on PATH",
      { cause: error },
    );
  }
}
