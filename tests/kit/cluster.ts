/**
 * @module
 * A whole cluster for multi-process tests: a real etcd (and, if asked, a real Postgres), `crawler
 * master` and `crawler worker` processes with configs written from objects, each process
 * replaceable by a new one under the same `--id`, and views of what the cluster holds.
 *
 * @example
 * ```ts
 * await using cluster = await Cluster.start({ masters: 2, workers: 2 });
 * const leader = await cluster.leader();
 * await leader.request("/crawler/resource", { method: "POST", json: { name, spec } });
 * ```
 */
import { parseAssignedNode } from "../../proto/assigned_node.ts";
import { placementsOf, type ResourceSpec } from "../../proto/resource_spec.ts";
import { type ConfigInput, mergeConfig, writeConfig } from "./config.ts";
import {
  agreedLeader,
  type CrawlerProcess,
  dumpLogs,
  startMaster,
  startWorker,
} from "./crawler.ts";
import { type EtcdServer, startEtcd } from "./etcd.ts";
import { type PostgresServer, startPostgres } from "./postgres.ts";
import { waitFor } from "./wait.ts";

/** Which process a config is for. */
export interface ProcessSlot {
  role: "master" | "worker";
  n: number;
  /** `master1`, `worker2`: names its files in `dir`. */
  name: string;
  /** The cluster's temporary directory. */
  dir: string;
}

/** Options for {@linkcode Cluster.start}. */
export interface ClusterOptions {
  /** Masters started with the cluster. Default 1. */
  masters?: number;
  /** Workers started with the cluster; it waits until they are registered. Default 0. */
  workers?: number;
  /** `GRPCServer.RegisterTTL` and `MasterServer.ElectionTTL`, seconds. Default 2. */
  ttlSeconds?: number;
  /**
   * Starts a Postgres too; every process's `frontier.url` is its database (the frontier workers
   * share). Default false: a SQLite frontier per process.
   */
  postgres?: boolean;
  /** Settings over the kit's defaults, for every process or per process. */
  config?: ConfigInput | ((slot: ProcessSlot) => ConfigInput);
  /** The API token every process gets (`CRAWLER_TOKEN`). Default: none. */
  token?: string;
}

/** A running cluster: etcd, masters and workers, each process replaceable. */
export class Cluster implements AsyncDisposable {
  readonly masters = new Map<number, CrawlerProcess>();
  readonly workers = new Map<number, CrawlerProcess>();
  /** Every process ever started, for logs and cleanup. */
  readonly processes: CrawlerProcess[] = [];
  /** Processes that exited without being told to. */
  readonly crashed: string[] = [];
  readonly #stopping = new Set<CrawlerProcess>();

  private constructor(
    readonly etcd: EtcdServer,
    readonly postgres: PostgresServer | undefined,
    readonly dir: string,
    readonly options: ClusterOptions,
  ) {}

  /** `GRPCServer.RegisterTTL` and `MasterServer.ElectionTTL` of every process, seconds. */
  get ttlSeconds(): number {
    return this.options.ttlSeconds ?? 2;
  }

  /**
   * Starts etcd (and Postgres), the masters and the workers, all at once, and waits until the
   * masters agree on a leader and every worker is registered.
   */
  static async start(options: ClusterOptions = {}): Promise<Cluster> {
    const etcd = await startEtcd();
    let postgres: PostgresServer | undefined;
    try {
      postgres = options.postgres ? await startPostgres() : undefined;
    } catch (error) {
      await etcd.dispose();
      throw error;
    }
    const dir = await Deno.makeTempDir({ prefix: "crawler_cluster_" });
    const cluster = new Cluster(etcd, postgres, dir, options);
    try {
      const masters = range(options.masters ?? 1).map((n) => cluster.startMaster(n));
      const workers = range(options.workers ?? 0).map((n) => cluster.startWorker(n));
      await Promise.all([...masters, ...workers]);
      if (cluster.masters.size > 0) await cluster.leader();
      if (cluster.workers.size > 0) await cluster.waitForWorkers(cluster.workers.size);
    } catch (error) {
      cluster.dumpLogs();
      await cluster[Symbol.asyncDispose]();
      throw error;
    }
    return cluster;
  }

  /**
   * `crawler master --id=n`, listening (a new process if one ran under that id); `config` goes
   * over the cluster's for this process.
   */
  async startMaster(n: number, config: ConfigInput = {}): Promise<CrawlerProcess> {
    const slot: ProcessSlot = { role: "master", n, name: `master${n}`, dir: this.dir };
    const master = await startMaster({
      n,
      etcd: this.etcd.endpoint,
      config: await this.#config(slot, config),
      token: this.options.token,
    });
    this.#track(master);
    this.masters.set(n, master);
    return master;
  }

  /**
   * `crawler worker --id=n`, listening (a new process if one ran under that id); `config` goes
   * over the cluster's for this process.
   */
  async startWorker(n: number, config: ConfigInput = {}): Promise<CrawlerProcess> {
    const slot: ProcessSlot = { role: "worker", n, name: `worker${n}`, dir: this.dir };
    const worker = await startWorker({
      n,
      etcd: this.etcd.endpoint,
      config: await this.#config(slot, config),
      token: this.options.token,
    });
    this.#track(worker);
    this.workers.set(n, worker);
    return worker;
  }

  /** The master all live masters name as leader, once they agree. */
  leader(timeoutMs = 20_000): Promise<CrawlerProcess> {
    return agreedLeader([...this.masters.values()].filter((m) => !m.exited), timeoutMs);
  }

  /**
   * Sends `signal` to a process of the cluster; SIGKILL and SIGTERM also wait for its exit (and
   * mark it stopped on purpose, not crashed).
   */
  async signal(process: CrawlerProcess, signal: Deno.Signal): Promise<void> {
    if (signal === "SIGKILL" || signal === "SIGTERM") {
      this.#stopping.add(process);
      await process.stop(signal);
    } else {
      process.child.kill(signal);
    }
  }

  /** A live master's answer to `path`, trying each master until one answers other than 503. */
  async request(
    path: string,
    init: RequestInit & { json?: unknown } = {},
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    let last: unknown = new Error("no master runs");
    for (const master of this.masters.values()) {
      if (master.exited) continue;
      try {
        const answer = await master.request(path, init);
        if (answer.status !== 503) return answer;
        last = new Error(`${path}: 503 ${JSON.stringify(answer.body)}`);
      } catch (error) {
        last = error;
      }
    }
    throw last;
  }

  /** A live master's JSON answer to GET `path`, trying each master until one answers 200. */
  async get(path: string): Promise<Record<string, unknown>> {
    let last: unknown = new Error("no master runs");
    for (const master of this.masters.values()) {
      if (master.exited) continue;
      try {
        const answer = await master.request(path);
        if (answer.status === 200) return answer.body;
        last = new Error(`${path}: ${answer.status} ${JSON.stringify(answer.body)}`);
      } catch (error) {
        last = error;
      }
    }
    throw last;
  }

  /** Every resource, from any master. */
  async resources(): Promise<ResourceSpec[]> {
    return (await this.get("/crawler/resource")).resources as ResourceSpec[];
  }

  /** The number of placements per registered worker id. */
  async loads(): Promise<Map<string, number>> {
    const workers = (await this.get("/crawler/workers")).workers as Array<
      { id: string; payload: number }
    >;
    return new Map(workers.map((w) => [w.id, w.payload]));
  }

  /** Waits until `count` workers are registered. */
  async waitForWorkers(count: number, timeoutMs = 30_000): Promise<void> {
    await waitFor(async () => (await this.loads()).size === count, {
      what: `${count} registered workers`,
      timeoutMs,
    });
  }

  /** The task names each live worker reports running, by worker id. */
  async running(): Promise<Map<string, string[]>> {
    const entries = await Promise.all([...this.workers.values()].map(async (worker) => {
      let names: string[] = [];
      try {
        // A short deadline: a stopped (SIGSTOP) worker must not hold up a sample.
        const response = await fetch(worker.url("/tasks"), {
          headers: worker.token ? { authorization: `Bearer ${worker.token}` } : {},
          signal: AbortSignal.timeout(500),
        });
        const body = await response.json();
        const tasks = body.tasks as Array<{ name: string; state: string }>;
        names = tasks.filter((t) => t.state === "running").map((t) => t.name);
      } catch {
        // Stopped or restarting: it runs nothing we can see.
      }
      return [worker.id, names] as [string, string[]];
    }));
    return new Map(entries);
  }

  /**
   * `t.step(name, fn)`, printing the processes' last log lines when the step fails: a failed
   * step does not throw, so a test's own `catch` would never see it.
   */
  step(t: Deno.TestContext, name: string, fn: () => void | Promise<void>): Promise<boolean> {
    return t.step(name, async () => {
      try {
        await fn();
      } catch (error) {
        this.dumpLogs();
        throw error;
      }
    });
  }

  /** Prints the last log lines of every process the cluster started. */
  dumpLogs(lines = 40): void {
    dumpLogs(this.processes, lines);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const process of this.processes) {
      this.#stopping.add(process);
      try {
        process.child.kill("SIGCONT");
      } catch { /* exited already */ }
      await process.stop("SIGKILL");
    }
    await this.etcd.dispose();
    await this.postgres?.dispose();
    await Deno.remove(this.dir, { recursive: true }).catch(() => undefined);
  }

  #track(process: CrawlerProcess): void {
    this.processes.push(process);
    process.child.status.then((status) => {
      if (!this.#stopping.has(process)) {
        this.crashed.push(`${process.id} exited ${status.code}`);
      }
    });
  }

  async #config(slot: ProcessSlot, over: ConfigInput = {}): Promise<string> {
    const { dir, name } = slot;
    const ttl = this.ttlSeconds;
    const defaults: ConfigInput = {
      logLevel: "info",
      storage: { sqlURL: `sqlite:${dir}/${name}.db` },
      frontier: { url: this.postgres?.url ?? `sqlite:${dir}/${name}-frontier.db` },
      GRPCServer: { RegisterTTL: ttl, RegisterInterval: 1, ClientTimeOut: 3 },
      MasterServer: { ElectionTTL: ttl, ClientTimeOut: 3 },
    };
    const config = this.options.config;
    const own = typeof config === "function" ? config(slot) : config ?? {};
    return await writeConfig(`${dir}/${name}.toml`, mergeConfig(defaults, own, over));
  }
}

/** The worker id of each placement of `resource`. */
export function placedOn(resource: ResourceSpec): string[] {
  return placementsOf(resource).map((p) => parseAssignedNode(p)?.workerId ?? "");
}

/** Placements per worker id, counted from the resources. */
export function countPlacements(resources: ResourceSpec[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const resource of resources) {
    for (const id of placedOn(resource)) counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/** Busiest minus idlest, over `loads`. */
export function spread(loads: Iterable<number>): number {
  const values = [...loads];
  return values.length === 0 ? 0 : Math.max(...values) - Math.min(...values);
}

function range(count: number): number[] {
  return Array.from({ length: count }, (_, i) => i + 1);
}
