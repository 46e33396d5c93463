/**
 * @module
 * A real Postgres for tests: a fresh cluster (initdb) in a temporary directory, served on a free
 * loopback port, which tests can stop (SIGKILL, like a crash), crash as `pg_ctl -m immediate`
 * does, restart (same port, same data) and dispose of. Uses Debian's `postgresql` binaries; as
 * root the server runs as the `postgres` system user, since Postgres refuses to run as root.
 */
import { restartablePort } from "./ports.ts";
import { waitFor } from "./wait.ts";

/** Options for {@linkcode startPostgres}. */
export interface StartPostgresOptions {
  /** How long to wait for Postgres to accept connections after a (re)start. Default: 20000 ms. */
  readyTimeoutMs?: number;
  /**
   * Server settings passed as `-c name=value` at every (re)start, over the defaults (`fsync =
   * off`, `full_page_writes = off`, `max_connections = 200`): e.g. `{ synchronous_commit: "off" }`
   * for a server that trades durability for speed.
   */
  settings?: Record<string, string>;
}

/** A running (or stopped) Postgres started by {@linkcode startPostgres}. */
export interface PostgresServer {
  /** `postgres://crawler@127.0.0.1:<port>/crawler`, for `frontier.url` or `storage.sqlURL`. */
  readonly url: string;
  readonly port: number;
  /** The cluster's directory (kept across `stop()`/`restart()`, removed by `dispose()`). */
  readonly dataDir: string;
  readonly running: boolean;
  /** Kills the server (SIGKILL, like a crash) and waits for it to exit. */
  stop(): Promise<void>;
  /**
   * Crashes the server as `pg_ctl stop -m immediate` does (SIGQUIT to the postmaster: every
   * backend quits at once, nothing is checkpointed, the next start recovers from the WAL) and
   * waits for it and its backends to exit.
   */
  crash(): Promise<void>;
  /** Starts the server again on the same port with the same data and waits until it answers. */
  restart(): Promise<void>;
  /** Creates another empty database on this server and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Kills the server if it runs and removes its directory. Safe to call twice. */
  dispose(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Where Debian puts the server binaries (`postgres`, `initdb`, `pg_isready`, `psql`). */
export async function postgresBinDir(): Promise<string> {
  const fromEnv = Deno.env.get("CRAWLER_PG_BIN");
  if (fromEnv) return fromEnv;
  try {
    const versions = [];
    for await (const entry of Deno.readDir("/usr/lib/postgresql")) {
      if (entry.isDirectory && /^\d+$/.test(entry.name)) versions.push(Number(entry.name));
    }
    versions.sort((a, b) => b - a);
    for (const version of versions) {
      const dir = `/usr/lib/postgresql/${version}/bin`;
      if (await exists(`${dir}/postgres`)) return dir;
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  throw new Error(
    "these tests need a real Postgres server: install it (Debian: apt-get install postgresql) " +
      "or set CRAWLER_PG_BIN to the folder holding `postgres` and `initdb`",
  );
}

/**
 * Starts a fresh Postgres on a free loopback port with user and database `crawler` (trust auth
 * on loopback) and waits until it accepts connections.
 *
 * @example
 * ```ts
 * await using pg = await startPostgres();
 * const frontier = await openFrontier(pg.url);
 * ```
 */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresServer> {
  const bin = await postgresBinDir();
  const readyTimeoutMs = options.readyTimeoutMs ?? 20_000;
  const dir = await Deno.makeTempDir({ prefix: "crawler_pg_" });
  const asUser = Deno.uid() === 0 ? "postgres" : undefined;
  if (asUser) await run("chown", ["-R", `${asUser}:`, dir]);
  const server = new TestPostgres(bin, dir, restartablePort(), readyTimeoutMs, asUser, {
    // Tests need speed, not durability across a power cut of the test machine; a commit
    // still reaches the OS before it returns, so it survives the server's crash (stop()).
    fsync: "off",
    full_page_writes: "off",
    max_connections: "200",
    ...options.settings,
  });
  try {
    await server.init();
    await server.restart();
  } catch (error) {
    await server.dispose();
    throw error;
  }
  return server;
}

class TestPostgres implements PostgresServer {
  #child: Deno.ChildProcess | undefined;
  #disposed = false;
  /** Whether the server has answered once: from then on its port is its own. */
  #started = false;

  constructor(
    readonly bin: string,
    readonly dir: string,
    public port: number,
    readonly readyTimeoutMs: number,
    readonly asUser: string | undefined,
    readonly settings: Readonly<Record<string, string>>,
  ) {}

  get url(): string {
    return `postgres://crawler@127.0.0.1:${this.port}/crawler`;
  }

  get dataDir(): string {
    return `${this.dir}/data`;
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  get #logFile(): string {
    return `${this.dir}/postgres.log`;
  }

  /**
   * Makes the data directory: a copy of a template cluster (initdb and the `crawler` database,
   * made once per machine and Postgres version, in the temporary directory), as a fresh initdb
   * costs seconds.
   */
  async init(): Promise<void> {
    const template = `${tempDir()}/crawler_pg_template_${this.bin.replaceAll("/", "_")}`;
    if (!(await exists(`${template}/PG_VERSION`))) await this.#makeTemplate(template);
    await run("cp", ["-a", template, this.dataDir]);
  }

  /** initdb and `CREATE DATABASE crawler` (in single-user mode: no port), then renamed into place. */
  async #makeTemplate(template: string): Promise<void> {
    const building = `${this.dir}/template`;
    const initdb = await this.#command(`${this.bin}/initdb`, [
      "-D",
      building,
      "-U",
      "crawler",
      "--auth=trust",
      "--encoding=UTF8",
      "--no-sync",
    ]).output();
    if (!initdb.success) {
      throw new Error(`initdb failed: ${new TextDecoder().decode(initdb.stderr)}`);
    }
    const single = this.#command(`${this.bin}/postgres`, ["--single", "-D", building, "postgres"], {
      stdin: "piped",
    }).spawn();
    const writer = single.stdin.getWriter();
    await writer.write(new TextEncoder().encode("CREATE DATABASE crawler OWNER crawler;\n"));
    await writer.close();
    const created = await single.output();
    if (!created.success) {
      throw new Error(`creating the database failed: ${new TextDecoder().decode(created.stderr)}`);
    }
    // Another test may have made it meanwhile: then its copy is as good as this one.
    await Deno.rename(building, template).catch(async (error) => {
      if (!(await exists(`${template}/PG_VERSION`))) throw error;
      await Deno.remove(building, { recursive: true });
    });
  }

  async restart(): Promise<void> {
    if (this.#disposed) throw new Error("postgres server is disposed");
    if (this.#child) await this.stop();
    const deadline = Date.now() + this.readyTimeoutMs;
    // After a SIGKILL the old backends notice their postmaster died and exit within moments;
    // until they have, a new postmaster refuses the data directory, so starting is retried.
    for (;;) {
      const child = this.#command(`${this.bin}/postgres`, [
        "-D",
        this.dataDir,
        "-p",
        String(this.port),
        "-k",
        this.dir,
        "-c",
        "listen_addresses=127.0.0.1",
        ...Object.entries(this.settings).flatMap(([name, value]) => ["-c", `${name}=${value}`]),
      ]).spawn();
      child.stdout.cancel();
      // Postgres logs to stderr: keep it in a file so a failed start can show it.
      const log = await Deno.open(this.#logFile, { append: true, create: true });
      child.stderr.pipeTo(log.writable).catch(() => {/* ends with the process */});
      this.#child = child;
      const ready = await this.#waitReady(child, deadline);
      if (ready === "ready") {
        this.#started = true;
        return;
      }
      this.#child = undefined;
      // The port was picked and released before the server bound it, and someone took it
      // meanwhile: a first start moves to another port.
      if (!this.#started && (await this.#logTail()).includes("Address already in use")) {
        await Deno.writeTextFile(this.#logFile, "");
        this.port = restartablePort();
        continue;
      }
      if (ready === "timeout" || Date.now() > deadline) {
        try {
          child.kill("SIGKILL");
        } catch { /* exited */ }
        await child.status;
        throw new Error(
          `postgres did not answer on port ${this.port} within ${this.readyTimeoutMs} ms; log:\n${await this
            .#logTail()}`,
        );
      }
    }
  }

  async psql(database: string, sql: string): Promise<void> {
    const output = await this.#command(`${this.bin}/psql`, [
      "-h",
      "127.0.0.1",
      "-p",
      String(this.port),
      "-U",
      "crawler",
      "-d",
      database,
      "-v",
      "ON_ERROR_STOP=1",
      "-c",
      sql,
    ]).output();
    if (!output.success) {
      throw new Error(`psql ${sql}: ${new TextDecoder().decode(output.stderr)}`);
    }
  }

  async createDatabase(name: string): Promise<string> {
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad database name ${name}`);
    await this.psql("postgres", `CREATE DATABASE ${name} OWNER crawler`);
    return `postgres://crawler@127.0.0.1:${this.port}/${name}`;
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = undefined;
    // A crash takes the backends too: one left behind by its killed postmaster would go on
    // answering its client for a moment.
    const backends = await childPids(child.pid);
    for (const pid of [child.pid, ...backends]) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* already gone */ }
    }
    await child.status;
    await backendsGone(backends);
  }

  async crash(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = undefined;
    const backends = await childPids(child.pid);
    try {
      Deno.kill(child.pid, "SIGQUIT");
    } catch { /* already gone */ }
    await child.status;
    // The postmaster has told its backends to quit; wait until they have (a backend left behind
    // would keep the data directory from being started again).
    await backendsGone(backends);
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await this.stop();
    await Deno.remove(this.dir, { recursive: true }).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }

  /**
   * A command run as the server's user (Postgres refuses to run as root). `setpriv` execs the
   * program (`runuser` would stay its parent), so the child's pid is the server's own.
   */
  #command(
    program: string,
    args: string[],
    options: { stdin?: "piped" | "null" } = {},
  ): Deno.Command {
    const command = this.asUser ? "setpriv" : program;
    const fullArgs = this.asUser
      ? [
        `--reuid=${this.asUser}`,
        `--regid=${this.asUser}`,
        "--init-groups",
        "--",
        program,
        ...args,
      ]
      : args;
    return new Deno.Command(command, {
      args: fullArgs,
      stdin: options.stdin ?? "null",
      stdout: "piped",
      stderr: "piped",
      cwd: this.dir,
      env: { LC_ALL: "C", TZ: "UTC" },
    });
  }

  /**
   * Waits until the server answers ("ready"), its process exits (after a SIGKILL the old
   * backends may still hold the data directory: the caller starts it again) or `deadline`.
   */
  async #waitReady(
    child: Deno.ChildProcess,
    deadline: number,
  ): Promise<"ready" | "exited" | "timeout"> {
    let exited = false;
    child.status.then(() => exited = true);
    try {
      return await waitFor(async () => {
        if (exited) return "exited";
        const output = await this.#command(`${this.bin}/pg_isready`, [
          "-h",
          "127.0.0.1",
          "-p",
          String(this.port),
          "-U",
          "crawler",
          "-d",
          "postgres",
        ]).output();
        return output.success && "ready";
      }, {
        what: `postgres to answer on port ${this.port}`,
        timeoutMs: Math.max(0, deadline - Date.now()),
        intervalMs: 50,
      });
    } catch {
      return "timeout";
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

function tempDir(): string {
  return Deno.env.get("TMPDIR") ?? "/tmp";
}

async function run(program: string, args: string[]): Promise<void> {
  const output = await new Deno.Command(program, { args, stdout: "null", stderr: "piped" })
    .output();
  if (!output.success) {
    throw new Error(`${program} ${args.join(" ")}: ${new TextDecoder().decode(output.stderr)}`);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** The pids of `parent`'s child processes (Linux: from /proc). */
async function childPids(parent: number): Promise<number[]> {
  const pids: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`);
      // pid (comm) state ppid …; comm may hold spaces and parentheses.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === parent) pids.push(Number(entry.name));
    } catch { /* exited meanwhile */ }
  }
  return pids;
}

/** Waits up to 5 s until none of `pids` runs. */
async function backendsGone(pids: number[]): Promise<void> {
  await waitFor(async () => (await childPidsAlive(pids)).length === 0, {
    what: `backends ${pids.join(", ")} to exit`,
    timeoutMs: 5000,
  }).catch(() => undefined); // one left behind shows when the server is started again
}

/** Those of `pids` still running (a zombie counts as gone). */
async function childPidsAlive(pids: number[]): Promise<number[]> {
  const alive: number[] = [];
  for (const pid of pids) {
    try {
      const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
      if (stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z") alive.push(pid);
    } catch { /* gone */ }
  }
  return alive;
}
