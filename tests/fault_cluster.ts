/**
 * @module
 * A cluster to break on purpose: a real etcd, one master and N worker processes, each worker
 * fetching through its own proxy port of an attributing site (so every request names the worker
 * that made it), plus a sampler that reads every worker's `/tasks` every 15 ms. Fault tests
 * build on it and judge double runs from the site's request log and the samples.
 */
import assert from "node:assert/strict";
import { type EtcdServer, startEtcd } from "./etcd_server.ts";
import { type AttributingSite, startAttributingSite } from "./attributing_site.ts";
import {
  agreedLeader,
  type CrawlerProcess,
  dumpLogs,
  http,
  MasterProcess,
  waitUntil,
  WorkerProcess,
} from "./cluster_harness.ts";

/** Options for {@linkcode startFaultCluster}. */
export interface FaultClusterOptions {
  workers: number;
  /** `RegisterTTL` and `ElectionTTL`, seconds. Default 2 (as in the chaos runs). */
  ttlSeconds?: number;
  /** The site's delay per page, ms. Default 50. */
  latencyMs?: number;
  /** `fetcher.concurrency` per worker. Default 4. */
  concurrency?: number;
}

/** A task as a worker's `/tasks` shows it. */
export interface SampledTask {
  name: string;
  state: string;
  stats?: { startedAt: number };
}

/** One `/tasks` answer: what `worker` ran when asked between `sentAt` and `receivedAt`. */
export interface Sample {
  worker: string;
  sentAt: number;
  receivedAt: number;
  running: Array<{ name: string; since: number }>;
}

/** A proven double run seen in two samples of one round. */
export interface SampledDoubleRun {
  task: string;
  workers: [string, string];
  /** At least this long, ms: from the later start to the earlier question. */
  atLeastMs: number;
}

/** A running fault cluster. `close()` stops everything and removes its files. */
export class FaultCluster {
  readonly workers: WorkerProcess[] = [];
  readonly samples: Sample[] = [];
  #sampling: Promise<void>[] = [];
  #sample = false;
  readonly #exited: Array<CrawlerProcess & { id: string }> = [];

  private constructor(
    readonly etcd: EtcdServer,
    readonly site: AttributingSite,
    readonly master: MasterProcess,
    readonly dir: string,
    readonly ttlSeconds: number,
    readonly options: Required<FaultClusterOptions>,
  ) {}

  static async start(options: FaultClusterOptions): Promise<FaultCluster> {
    const full: Required<FaultClusterOptions> = {
      ttlSeconds: 2,
      latencyMs: 50,
      concurrency: 4,
      ...options,
    };
    const etcd = await startEtcd();
    const site = startAttributingSite({ latencyMs: full.latencyMs });
    const dir = await Deno.makeTempDir({ prefix: "crawler_faults_" });
    const masterConfig = `${dir}/master.toml`;
    await Deno.writeTextFile(
      masterConfig,
      `logLevel = "info"\n[MasterServer]\nElectionTTL = ${full.ttlSeconds}\nClientTimeOut = 3\n`,
    );
    const master = new MasterProcess(1, etcd.endpoint, masterConfig);
    const cluster = new FaultCluster(etcd, site, master, dir, full.ttlSeconds, full);
    try {
      // One process at a time, each listening before the next picks its free ports: a port
      // picked while another process is still starting may be the one it is about to bind.
      await agreedLeader([master]);
      for (let n = 1; n <= full.workers; n++) await cluster.startWorker(n);
      await cluster.waitReady();
    } catch (error) {
      await cluster.close(true);
      throw error;
    }
    return cluster;
  }

  /** Starts worker `n` (again, after a kill: same id, same config, new ports). */
  async startWorker(n: number): Promise<WorkerProcess> {
    const id = `crawler.worker-${n}`;
    const config = `${this.dir}/worker${n}.toml`;
    await Deno.writeTextFile(
      config,
      `logLevel = "info"
[fetcher]
concurrency = ${this.options.concurrency}
retries = 0
proxy = ["${this.site.proxyFor(id)}"]
[storage]
sqlURL = "sqlite:${this.dir}/worker${n}.db"
[GRPCServer]
RegisterTTL = ${this.ttlSeconds}
ClientTimeOut = 3
`,
    );
    const worker = new WorkerProcess(n, this.etcd.endpoint, config);
    const old = this.workers.findIndex((w) => w.id === worker.id);
    if (old >= 0) this.#exited.push(this.workers.splice(old, 1, worker)[0]);
    else this.workers.push(worker);
    if (this.#sample) this.#sampleLoop(worker);
    await waitUntil(
      `${worker.id} to listen`,
      20_000,
      async () => (await http(worker.url("/healthz"))).status === 200,
    );
    return worker;
  }

  /** Waits until the master lists every worker and each answers ready. */
  async waitReady(timeoutMs = 20_000): Promise<void> {
    await waitUntil("every worker registered and ready", timeoutMs, async () => {
      const { body } = await http(this.master.url("/crawler/workers"));
      const listed = new Set((body.workers as Array<{ id: string }>).map((w) => w.id));
      if (!this.workers.every((w) => listed.has(w.id))) return false;
      const ready = await Promise.all(this.workers.map((w) => http(w.url("/readyz"))));
      return ready.every((r) => r.status === 200);
    });
  }

  /** The declarative spec of task `name`: an endless crawl of its own tree on the site. */
  spec(name: string) {
    return {
      url: this.site.taskUrl(name),
      maxDepth: 1000,
      waitTime: 0,
      limits: [],
      rules: { page: { links: [{ rule: "page", regex: 'href="([^"]+)"' }] } },
    };
  }

  /** Adds a task through the master; returns the worker id it went to. */
  async add(name: string): Promise<string> {
    const answer = await http(this.master.url("/crawler/resource"), {
      method: "POST",
      json: { name, spec: this.spec(name) },
    });
    assert.equal(answer.status, 200, `add ${name}: ${JSON.stringify(answer.body)}`);
    return answer.body.id as string;
  }

  /** Deletes a task through the master; resolves with when the answer came. */
  async delete(name: string): Promise<number> {
    const answer = await http(this.master.url("/crawler/resource"), {
      method: "DELETE",
      json: { name },
    });
    assert.equal(answer.status, 200, `delete ${name}: ${JSON.stringify(answer.body)}`);
    return Date.now();
  }

  /** Task name → worker id, as the master lists the resources. */
  async assignments(): Promise<Map<string, string>> {
    const { status, body } = await http(this.master.url("/crawler/resource"));
    assert.equal(status, 200);
    const resources = body.resources as Array<{ Name: string; AssignedNode: string }>;
    return new Map(resources.map((r) => [r.Name, r.AssignedNode.split("|")[0]]));
  }

  /** Task name → workers running it now, from every live worker's `/tasks`. */
  async running(): Promise<Map<string, string[]>> {
    const answers = await Promise.all(this.workers.map(async (w) => {
      const { body } = await http(w.url("/tasks"));
      return { worker: w.id, tasks: body.tasks as SampledTask[] };
    }));
    const running = new Map<string, string[]>();
    for (const { worker, tasks } of answers) {
      for (const t of tasks.filter((t) => t.state === "running")) {
        running.set(t.name, [...(running.get(t.name) ?? []), worker]);
      }
    }
    return running;
  }

  /** Waits until each of `names` runs on exactly the worker the master assigned it to. */
  async waitRunningAsAssigned(names: string[], timeoutMs: number): Promise<void> {
    await waitUntil(`${names.length} tasks running where assigned`, timeoutMs, async () => {
      const [assigned, running] = await Promise.all([this.assignments(), this.running()]);
      return names.every((name) => {
        const on = running.get(name) ?? [];
        return on.length === 1 && on[0] === assigned.get(name);
      });
    });
  }

  /**
   * Starts reading every worker's `/tasks` every 15 ms, one loop per worker (a paused worker
   * holds up only its own). A worker started later is sampled from then on.
   */
  startSampling(): void {
    this.#sample = true;
    for (const worker of this.workers) this.#sampleLoop(worker);
  }

  #sampleLoop(worker: WorkerProcess): void {
    this.#sampling.push((async () => {
      while (this.#sample && this.workers.includes(worker)) {
        const sample = await sampleWorker(worker);
        if (sample) this.samples.push(sample);
        await new Promise((resolve) => setTimeout(resolve, 15));
      }
    })());
  }

  async stopSampling(): Promise<void> {
    this.#sample = false;
    await Promise.all(this.#sampling);
  }

  /**
   * Double runs the samples prove: two workers each answered that they ran a task, each having
   * started it before the other was asked, so both ran it at the moment of the later question.
   * (Two answers alone prove nothing: one may have stopped the task before the other started.)
   */
  sampledDoubleRuns(): SampledDoubleRun[] {
    const found: SampledDoubleRun[] = [];
    const samples = [...this.samples].sort((a, b) => a.sentAt - b.sentAt);
    for (let i = 0; i < samples.length; i++) {
      const a = samples[i];
      for (let j = i + 1; j < samples.length && samples[j].sentAt - a.sentAt < 500; j++) {
        const b = samples[j];
        if (a.worker === b.worker) continue;
        for (const ta of a.running) {
          const tb = b.running.find((t) => t.name === ta.name);
          if (!tb) continue;
          if (tb.since <= a.sentAt && ta.since <= b.sentAt) {
            found.push({
              task: ta.name,
              workers: [a.worker, b.worker],
              atLeastMs: Math.max(a.sentAt, b.sentAt) - Math.max(ta.since, tb.since),
            });
          }
        }
      }
    }
    return found;
  }

  /** Epoch ms of each `msg` line the worker's own logger ("worker") wrote (its JSON `ts`). */
  logTimes(worker: CrawlerProcess, msg: string): number[] {
    const times: number[] = [];
    for (const line of worker.logs) {
      if (!line.startsWith("{")) continue;
      try {
        const record = JSON.parse(line);
        if (record.logger === "worker" && record.msg === msg) times.push(Date.parse(record.ts));
      } catch {
        // not a log record
      }
    }
    return times;
  }

  /** Log lines of level ERROR of the workers this cluster ran (or of the master). */
  errorLines(of: "workers" | "master" = "workers"): string[] {
    const processes = of === "master" ? [this.master] : [...this.#exited, ...this.workers];
    return processes.flatMap((p) => p.logs.filter((line) => line.includes('"level":"ERROR"')));
  }

  async close(failed = false): Promise<void> {
    await this.stopSampling();
    if (failed) dumpLogs([this.master, ...this.#exited, ...this.workers], 30);
    for (const p of [...this.workers, this.master]) await p.stop("SIGKILL");
    for (const p of this.#exited) await p.stop("SIGKILL");
    await this.site.close();
    await this.etcd.dispose();
    await Deno.remove(this.dir, { recursive: true });
  }
}

async function sampleWorker(worker: WorkerProcess): Promise<Sample | undefined> {
  const sentAt = Date.now();
  try {
    const response = await fetch(worker.url("/tasks"), { signal: AbortSignal.timeout(2000) });
    const body = await response.json() as { tasks: SampledTask[] };
    return {
      worker: worker.id,
      sentAt,
      receivedAt: Date.now(),
      running: body.tasks.filter((t) => t.state === "running" && t.stats).map((t) => ({
        name: t.name,
        since: t.stats!.startedAt,
      })),
    };
  } catch {
    return undefined; // stopped, killed or restarting: it answers nothing, and runs nothing
  }
}
