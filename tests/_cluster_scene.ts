/**
 * @module
 * A whole cluster for multi-process tests of the master side: a real etcd, `crawler master`
 * and `crawler worker` processes (each replaceable by a new process under the same id), and
 * views of what the cluster holds: resources with their placements, loads, running tasks.
 */
import { parseAssignedNode } from "../proto/assigned_node.ts";
import { placementsOf, type ResourceSpec } from "../proto/resource_spec.ts";
import {
  CrawlerProcess,
  http,
  MasterProcess,
  waitUntil,
  WorkerProcess,
} from "./cluster_harness.ts";
import { type EtcdServer, startEtcd } from "./etcd_server.ts";

/** Options for {@linkcode ClusterScene.start}. */
export interface SceneOptions {
  masters: number;
  workers: number;
  /** Registration and election TTL, seconds. Default 2. */
  ttlSeconds?: number;
  /** Lines added to the `[MasterServer]` section. */
  masterConfig?: string;
  /** `frontier.url` of every process. Default: a SQLite file per process. */
  frontierUrl?: string;
}

/** A running cluster: etcd, masters and workers, each process replaceable. */
export class ClusterScene implements AsyncDisposable {
  readonly masters = new Map<number, MasterProcess>();
  readonly workers = new Map<number, WorkerProcess>();
  /** Every process ever started, for logs and cleanup. */
  readonly processes: CrawlerProcess[] = [];
  /** Processes that exited without being told to. */
  readonly crashed: string[] = [];
  readonly #stopping = new Set<CrawlerProcess>();

  private constructor(
    readonly etcd: EtcdServer,
    readonly dir: string,
    readonly ttlSeconds: number,
    readonly masterConfig: string,
    readonly frontierUrl: string | undefined,
  ) {}

  /** Starts etcd, the masters and the workers, and waits until every worker is registered. */
  static async start(options: SceneOptions): Promise<ClusterScene> {
    const etcd = await startEtcd();
    const dir = await Deno.makeTempDir({ prefix: "crawler_scene_" });
    const scene = new ClusterScene(
      etcd,
      dir,
      options.ttlSeconds ?? 2,
      options.masterConfig ?? "",
      options.frontierUrl,
    );
    try {
      for (let n = 1; n <= options.masters; n++) await scene.startMaster(n);
      for (let n = 1; n <= options.workers; n++) await scene.startWorker(n);
      await scene.waitForWorkers(options.workers, 30_000);
    } catch (error) {
      await scene[Symbol.asyncDispose]();
      throw error;
    }
    return scene;
  }

  /** `crawler master --id=n` (a new process if one ran under that id). */
  async startMaster(n: number): Promise<MasterProcess> {
    const master = new MasterProcess(n, this.etcd.endpoint, await this.#config(`master${n}`));
    this.#track(master);
    this.masters.set(n, master);
    await this.#listening(master);
    return master;
  }

  /** `crawler worker --id=n` (a new process if one ran under that id). */
  async startWorker(n: number): Promise<WorkerProcess> {
    const worker = new WorkerProcess(n, this.etcd.endpoint, await this.#config(`worker${n}`));
    this.#track(worker);
    this.workers.set(n, worker);
    await this.#listening(worker);
    return worker;
  }

  /** Sends `signal` to a process the scene started; SIGKILL also waits for its exit. */
  async signal(process: CrawlerProcess, signal: Deno.Signal): Promise<void> {
    if (signal === "SIGKILL" || signal === "SIGTERM") {
      this.#stopping.add(process);
      await process.stop(signal);
    } else {
      process.child.kill(signal);
    }
  }

  /** A live master's answer to GET `path`, trying each master until one answers. */
  async get(path: string): Promise<Record<string, unknown>> {
    let last: unknown;
    for (const master of this.masters.values()) {
      try {
        const answer = await http(master.url(path));
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
  async waitForWorkers(count: number, timeoutMs: number): Promise<void> {
    await waitUntil(`${count} registered workers`, timeoutMs, async () => {
      return (await this.loads()).size === count;
    });
  }

  /** The task names each live worker reports running, by worker id. */
  async running(): Promise<Map<string, string[]>> {
    const entries = await Promise.all([...this.workers.values()].map(async (worker) => {
      let names: string[] = [];
      try {
        // A short deadline: a stopped (SIGSTOP) worker must not hold up a sample.
        const response = await fetch(worker.url("/tasks"), { signal: AbortSignal.timeout(500) });
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

  async [Symbol.asyncDispose](): Promise<void> {
    for (const process of this.processes) {
      this.#stopping.add(process);
      try {
        process.child.kill("SIGCONT");
      } catch { /* exited already */ }
      await process.stop("SIGKILL");
    }
    await this.etcd.dispose();
    await Deno.remove(this.dir, { recursive: true }).catch(() => undefined);
  }

  /**
   * Waits until `process` answers on its HTTP port. Processes start one at a time, so one that
   * picks free ports cannot take a port another was about to bind.
   */
  async #listening(process: CrawlerProcess & { id: string }): Promise<void> {
    await waitUntil(`${process.id} to listen`, 30_000, async () => {
      return (await http(process.url("/healthz"))).status === 200;
    });
  }

  #track(process: CrawlerProcess & { id: string }): void {
    this.processes.push(process);
    process.child.status.then((status) => {
      if (!this.#stopping.has(process)) this.crashed.push(`${process.id} exited ${status.code}`);
    });
  }

  async #config(name: string): Promise<string> {
    const path = `${this.dir}/${name}.toml`;
    await Deno.writeTextFile(
      path,
      `logLevel = "info"
[fetcher]
concurrency = 2
retries = 0
timeout = 2000
[storage]
sqlURL = "sqlite:${this.dir}/${name}.db"
[frontier]
url = "${this.frontierUrl ?? `sqlite:${this.dir}/${name}-frontier.db`}"
[GRPCServer]
RegisterTTL = ${this.ttlSeconds}
RegisterInterval = 1
ClientTimeOut = 3
[MasterServer]
ElectionTTL = ${this.ttlSeconds}
ClientTimeOut = 3
${this.masterConfig}
`,
    );
    return path;
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
