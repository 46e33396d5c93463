/**
 * @module
 * What a master knows of the whole cluster, for the dashboard and `GET /crawler/resource/<name>`:
 * it asks every registered worker for its status on a timer (a deadline per call, all in
 * parallel, in the background), keeps the last answers and a short history of each task's
 * progress, and joins them with the resources and workers in the store when asked. Asking never
 * waits on a worker: a dead or slow one is shown as unreachable with its last known counters.
 */
import type { WorkerStatus } from "../proto/api_bodies.ts";
import { parseAssignedNode } from "../proto/assigned_node.ts";
import type { ResourceSpec } from "../proto/resource_spec.ts";
import type { RecrawlReport, TaskReport, WorkerReport } from "../proto/worker_report.ts";
import type { Logger } from "../log/logger.ts";
import { silentLogger } from "../log/logger.ts";
import { delay } from "../async/delay.ts";
import type { WorkerStatusSource } from "./worker_status_source.ts";
import {
  emptyRenderStats,
  RENDER_SECONDS_BUCKETS,
  type RenderStats,
} from "../spider/browser/render_stats.ts";

/** Counters of a task summed over its placements. */
export interface TaskCounters {
  fetched: number;
  failed: number;
  retried: number;
  items: number;
  /** Requests waiting in the task's frontier: shared by its workers, so not summed. */
  queued: number;
  /** Requests claimed and not settled yet (in flight). */
  leased: number;
  /** Why a placement has made no progress for a minute with work queued, if one has not. */
  stalled?: string;
  /** Sitemap files read and the page URLs they listed; absent for a task without sitemaps. */
  sitemaps?: number;
  sitemapUrls?: number;
  /**
   * What the task's pages did in the browser (pages rendered and failed, the render-time
   * histogram over `ClusterSnapshot.renderSeconds`, pages open now, browser restarts); absent for
   * a task that renders no page.
   */
  render?: RenderStats;
  /**
   * A recrawl task's revisits (docs/frontier.md, "Recrawl"): the counters summed over its
   * workers, `scheduled` and `due` as its frontier holds them (the same on every worker: the
   * largest reported), `nextDueAt` the earliest any worker reports (ms since the epoch). Absent
   * for a task that does not recrawl.
   */
  recrawl?: RecrawlReport;
}

/** One worker a task is placed on, as last heard from. */
export interface PlacementView {
  workerId: string;
  address: string;
  /** The worker's state of the task, or `unreachable` / `not reported` / `no worker`. */
  state: string;
  error?: string;
  counters?: TaskCounters;
}

/** A task's recent error, with the worker that saw it. */
export interface TaskErrorView {
  url: string;
  error: string;
  /** Milliseconds since the epoch. */
  at: number;
  workerId: string;
}

/** A host's fetches for a task, over all its workers. */
export interface HostView {
  host: string;
  fetched: number;
  failed: number;
  /** 429/503 answers, summed over the task's workers. */
  throttled: number;
  /** URLs robots.txt disallowed, summed over the task's workers. */
  disallowed: number;
  /** The delay between requests to the host in force (the largest a worker saw), ms. */
  delayMs: number;
  /** Until when the host is blocked (the latest a worker saw), ms since the epoch; 0: not. */
  blockedUntil: number;
}

/** A resource with what its workers report: `GET /crawler/resource/<name>`. */
export interface TaskView {
  name: string;
  /** The stored resource (with `Spec`, `Paused`, placements). */
  resource: ResourceSpec;
  paused: boolean;
  /**
   * running, waiting (a recrawl task none of whose workers has anything to fetch until its next
   * visit is due), paused, pausing (paused, a worker still runs it), finished, stopped, pending
   * (placed, not reported running yet), unknown (a worker cannot run it), unreachable (no
   * placement's worker answers), unassigned (no worker).
   */
  state: string;
  totals: TaskCounters;
  /** Pages fetched per second over the last few samples. */
  pagesPerSecond: number;
  /** Pages per second per sample interval, oldest first (the sparkline). */
  history: number[];
  placements: PlacementView[];
  /** The last errors, newest first. */
  errors: TaskErrorView[];
  /** The busiest hosts. */
  hosts: HostView[];
}

/** A registered worker with its load and health. */
export interface WorkerView extends WorkerStatus {
  /** `ok`, `not ready` (registered but not following its assignments) or `unreachable`. */
  health: "ok" | "not ready" | "unreachable" | "not polled yet";
  error?: string;
  /** When it last answered, ms since the epoch. */
  lastSeen?: number;
  /** Tasks it runs now. */
  running: number;
  /** Tasks it reports, in any state. */
  tasks: number;
  pagesPerSecond: number;
}

/** `GET /crawler/cluster`: everything the dashboard draws. */
export interface ClusterSnapshot {
  /** When this answer was made, ms since the epoch. */
  at: number;
  self: string;
  leader: string | null;
  isLeader: boolean;
  /** Milliseconds between two samples of `history`. */
  sampleIntervalMs: number;
  /**
   * Upper bounds of the render-time histogram (`TaskCounters.render.seconds`), seconds; its last
   * count is of renders slower than the last bound.
   */
  renderSeconds: readonly number[];
  /** When the workers were last asked, ms since the epoch (absent before the first round). */
  polledAt?: number;
  tasks: TaskView[];
  workers: WorkerView[];
}

/** What the view needs of the master. */
export interface ClusterSource {
  listResources(): Promise<ResourceSpec[]>;
  listWorkers(): Promise<WorkerStatus[]>;
  getResource(name: string): Promise<ResourceSpec>;
  status(): { self: string; leader: string | undefined; isLeader: boolean };
}

/** Options for {@linkcode ClusterView}. */
export interface ClusterViewOptions {
  master: ClusterSource;
  workers: WorkerStatusSource;
  /** Time between two polls of the workers, ms. Default 2000. */
  intervalMs?: number;
  /** Deadline of one worker's status call, ms. Default 1500. */
  callTimeoutMs?: number;
  /** Samples of history kept per task. Default 90 (3 minutes at 2 s). */
  historySamples?: number;
  /** How many errors and hosts a task shows. Default 10 each. */
  top?: number;
  clock?: () => number;
  logger?: Logger;
}

interface WorkerRecord {
  report?: WorkerReport;
  lastSeen?: number;
  error?: string;
  /** True when the last poll failed. */
  unreachable: boolean;
}

interface Sample {
  at: number;
  fetched: number;
}

interface History {
  /** The resource ID the samples belong to: a new resource of the same name starts afresh. */
  id: string;
  samples: Sample[];
}

const ZERO = { fetched: 0, failed: 0, retried: 0, items: 0, queued: 0, leased: 0 };
/** The counters each worker keeps of its own: summed over the placements. */
const SUMMED = ["fetched", "failed", "retried", "items", "leased"] as const;

/**
 * The cluster as this master sees it. `run(signal)` polls the workers until `signal` aborts;
 * `snapshot()` and `describe()` answer at once from the last poll.
 *
 * @example
 * ```ts
 * const view = new ClusterView({ master, workers: new GrpcWorkerStatusSource() });
 * const polling = view.run(signal);
 * const snapshot = await view.snapshot(); // resources and workers from the store, joined
 * ```
 */
export class ClusterView {
  readonly #master: ClusterSource;
  readonly #source: WorkerStatusSource;
  readonly #intervalMs: number;
  readonly #callTimeoutMs: number;
  readonly #historySamples: number;
  readonly #top: number;
  readonly #clock: () => number;
  readonly #logger: Logger;
  readonly #workers = new Map<string, WorkerRecord>();
  readonly #history = new Map<string, History>();
  readonly #workerHistory = new Map<string, Sample[]>();
  #polledAt: number | undefined;

  constructor(options: ClusterViewOptions) {
    this.#master = options.master;
    this.#source = options.workers;
    this.#intervalMs = options.intervalMs ?? 2000;
    this.#callTimeoutMs = options.callTimeoutMs ?? 1500;
    this.#historySamples = options.historySamples ?? 90;
    this.#top = options.top ?? 10;
    this.#clock = options.clock ?? Date.now;
    this.#logger = options.logger ?? silentLogger;
  }

  /** Polls every `intervalMs` until `signal` aborts; a failed round is logged and retried. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.poll(signal);
      } catch (error) {
        if (signal.aborted) break;
        this.#logger.debug("polling the workers failed", { error });
      }
      await delay(this.#intervalMs, { signal }).catch(() => {});
    }
    this.#source.close();
  }

  /**
   * One round: asks every registered worker for its status (all at once, each with its own
   * deadline), then records a history sample for every resource.
   */
  async poll(signal?: AbortSignal): Promise<void> {
    const [workers, resources] = await Promise.all([
      this.#master.listWorkers(),
      this.#master.listResources(),
    ]);
    const ids = new Set(workers.map((w) => w.id));
    for (const id of this.#workers.keys()) if (!ids.has(id)) this.#workers.delete(id);
    for (const id of this.#workerHistory.keys()) {
      if (!ids.has(id)) this.#workerHistory.delete(id);
    }
    this.#source.retain?.(new Set(workers.map((w) => w.address)));
    await Promise.all(workers.map(async (worker) => {
      const record = this.#workers.get(worker.id) ?? { unreachable: false };
      this.#workers.set(worker.id, record);
      try {
        const report = await this.#source.status(worker, {
          timeoutMs: this.#callTimeoutMs,
          signal,
        });
        record.report = report;
        record.lastSeen = this.#clock();
        record.unreachable = false;
        record.error = undefined;
      } catch (error) {
        record.unreachable = true;
        record.error = (error as Error).message ?? String(error);
      }
    }));
    const now = this.#clock();
    this.#polledAt = now;
    const names = new Set(resources.map((r) => r.Name));
    for (const name of this.#history.keys()) if (!names.has(name)) this.#history.delete(name);
    for (const resource of resources) {
      let history = this.#history.get(resource.Name);
      if (!history || history.id !== resource.ID) {
        history = { id: resource.ID, samples: [] };
        this.#history.set(resource.Name, history);
      }
      const fetched = this.#placements(resource).reduce(
        (sum, p) => sum + (p.counters?.fetched ?? 0),
        0,
      );
      this.#push(history.samples, { at: now, fetched });
    }
    for (const worker of workers) {
      const record = this.#workers.get(worker.id);
      if (!record?.report || record.unreachable) continue;
      const fetched = record.report.tasks.reduce((sum, t) => sum + (t.stats?.fetched ?? 0), 0);
      const samples = this.#workerHistory.get(worker.id) ?? [];
      this.#workerHistory.set(worker.id, samples);
      this.#push(samples, { at: now, fetched });
    }
  }

  /** The resource named `name` joined with its workers' reports (`NotFoundError` if none). */
  async resource(name: string): Promise<TaskView> {
    return this.describe(await this.#master.getResource(name));
  }

  /**
   * A resource joined with the last reports of its workers, with at most `top` errors and hosts
   * (default: the view's `top`).
   */
  describe(resource: ResourceSpec, top: number = this.#top): TaskView {
    const placements = this.#placements(resource);
    const totals: TaskCounters = { ...ZERO };
    for (const p of placements) {
      if (!p.counters) continue;
      for (const key of SUMMED) totals[key] += p.counters[key];
      // The task's frontier is shared by its workers: each reports the same queue.
      totals.queued = Math.max(totals.queued, p.counters.queued);
      if (p.counters.sitemaps !== undefined) {
        totals.sitemaps = (totals.sitemaps ?? 0) + p.counters.sitemaps;
        totals.sitemapUrls = (totals.sitemapUrls ?? 0) + (p.counters.sitemapUrls ?? 0);
      }
      if (p.counters.render) totals.render = addRender(totals.render, p.counters.render);
      if (p.counters.recrawl) totals.recrawl = addRecrawl(totals.recrawl, p.counters.recrawl);
    }
    const reports = placements.map((p) => this.#taskReport(p.workerId, resource));
    const errors = reports.flatMap((r, i) =>
      (r?.activity?.errors ?? []).map((e) => ({ ...e, workerId: placements[i].workerId }))
    ).sort((a, b) => b.at - a.at).slice(0, top);
    const hostMap = new Map<string, HostView>();
    for (const r of reports) {
      for (const h of r?.activity?.hosts ?? []) {
        const entry = hostMap.get(h.host) ??
          {
            host: h.host,
            fetched: 0,
            failed: 0,
            throttled: 0,
            disallowed: 0,
            delayMs: 0,
            blockedUntil: 0,
          };
        entry.fetched += h.fetched;
        entry.failed += h.failed;
        entry.throttled += h.throttled ?? 0;
        entry.disallowed += h.disallowed ?? 0;
        // The schedule is shared by every worker of the host: the freshest report is the largest.
        entry.delayMs = Math.max(entry.delayMs, h.delayMs ?? 0);
        entry.blockedUntil = Math.max(entry.blockedUntil, h.blockedUntil ?? 0);
        hostMap.set(h.host, entry);
      }
    }
    const hosts = [...hostMap.values()]
      .sort((a, b) => b.fetched + b.failed - (a.fetched + a.failed))
      .slice(0, top);
    const history = this.#history.get(resource.Name);
    const samples = history?.id === resource.ID ? history.samples : [];
    const paused = resource.Paused === true;
    return {
      name: resource.Name,
      resource,
      paused,
      // Paused in the store, but a worker still reports it running (it has not seen the pause
      // yet, or this view has not asked it since): "pausing".
      state: paused
        ? (placements.some((p) => RUNNING.has(p.state)) ? "pausing" : "paused")
        : overallState(placements),
      totals,
      pagesPerSecond: paused ? 0 : recentRate(samples),
      history: rates(samples),
      placements,
      errors,
      hosts,
    };
  }

  /**
   * Resources and workers from the store, joined with the last poll. The dashboard asks every
   * 2 s, so each task carries its 5 last errors and busiest hosts (`top`), not the view's 10.
   */
  async snapshot(options: { top?: number } = {}): Promise<ClusterSnapshot> {
    const [resources, workers] = await Promise.all([
      this.#master.listResources(),
      this.#master.listWorkers(),
    ]);
    const status = this.#master.status();
    return {
      at: this.#clock(),
      self: status.self,
      leader: status.leader ?? null,
      isLeader: status.isLeader,
      sampleIntervalMs: this.#intervalMs,
      renderSeconds: RENDER_SECONDS_BUCKETS,
      ...(this.#polledAt === undefined ? {} : { polledAt: this.#polledAt }),
      tasks: resources.map((r) => this.describe(r, options.top ?? 5)),
      workers: workers.map((w) => this.#describeWorker(w)),
    };
  }

  #describeWorker(worker: WorkerStatus): WorkerView {
    const record = this.#workers.get(worker.id);
    const tasks = record?.report?.tasks ?? [];
    const health: WorkerView["health"] = !record
      ? "not polled yet"
      : record.unreachable
      ? "unreachable"
      : record.report?.ready === false
      ? "not ready"
      : "ok";
    return {
      ...worker,
      health,
      ...(record?.error && record.unreachable ? { error: record.error } : {}),
      ...(record?.lastSeen ? { lastSeen: record.lastSeen } : {}),
      running: tasks.filter((t) => RUNNING.has(t.state)).length,
      tasks: tasks.length,
      pagesPerSecond: record?.unreachable
        ? 0
        : recentRate(this.#workerHistory.get(worker.id) ?? []),
    };
  }

  #placements(resource: ResourceSpec): PlacementView[] {
    const nodes = resource.Placements?.length ? resource.Placements : [resource.AssignedNode];
    const placements: PlacementView[] = [];
    for (const node of nodes) {
      const parsed = parseAssignedNode(node);
      if (!parsed) continue;
      const record = this.#workers.get(parsed.workerId);
      const task = this.#taskReport(parsed.workerId, resource);
      const state = !record?.report && !record?.unreachable
        ? "not reported"
        : record?.unreachable
        ? "unreachable"
        : task?.state ?? "not reported";
      placements.push({
        workerId: parsed.workerId,
        address: parsed.address,
        state,
        ...(task?.error ? { error: task.error } : {}),
        ...(record?.unreachable && record.error ? { error: record.error } : {}),
        ...(task?.stats ? { counters: countersOf(task) } : {}),
      });
    }
    return placements;
  }

  /** The worker's report of this resource (the same ID: an older run of the name is not it). */
  #taskReport(workerId: string, resource: ResourceSpec): TaskReport | undefined {
    return this.#workers.get(workerId)?.report?.tasks.find((t) =>
      t.name === resource.Name && t.id === resource.ID
    );
  }

  #push(samples: Sample[], sample: Sample): void {
    samples.push(sample);
    if (samples.length > this.#historySamples) {
      samples.splice(0, samples.length - this.#historySamples);
    }
  }
}

function countersOf(task: TaskReport): TaskCounters {
  const s = task.stats!;
  return {
    fetched: s.fetched,
    failed: s.failed,
    retried: s.retried,
    items: s.items,
    queued: s.queued,
    leased: s.leased ?? s.inFlight,
    ...(s.stalled ? { stalled: s.stalled } : {}),
    ...(s.sitemaps ? { sitemaps: s.sitemaps, sitemapUrls: s.sitemapUrls ?? 0 } : {}),
    ...(s.render ? { render: s.render } : {}),
    ...(s.recrawl
      ? {
        recrawl: {
          ...s.recrawl,
          scheduled: s.frontier?.scheduled ?? 0,
          due: s.frontier?.due ?? 0,
        },
      }
      : {}),
  };
}

/**
 * `total` (none yet: a copy of `more`) plus `more`: counters summed, the frontier's figures (the
 * same on every worker, but read at different moments) the largest, the next due time the
 * earliest.
 */
function addRecrawl(total: RecrawlReport | undefined, more: RecrawlReport): RecrawlReport {
  if (!total) return { ...more };
  const nextDueAt = [total.nextDueAt, more.nextDueAt].filter((at) => at !== undefined);
  return {
    revisits: total.revisits + more.revisits,
    notModified: total.notModified + more.notModified,
    unchanged: total.unchanged + more.unchanged,
    changed: total.changed + more.changed,
    scheduled: Math.max(total.scheduled, more.scheduled),
    due: Math.max(total.due, more.due),
    ...(nextDueAt.length > 0 ? { nextDueAt: Math.min(...nextDueAt) } : {}),
  };
}

/** `total` (none yet: empty) plus `more`, bucket by bucket. */
function addRender(total: RenderStats | undefined, more: RenderStats): RenderStats {
  const sum = total ?? emptyRenderStats();
  sum.rendered += more.rendered;
  sum.failed += more.failed;
  sum.open += more.open;
  sum.restarts += more.restarts;
  more.seconds.forEach((count, i) => sum.seconds[i] = (sum.seconds[i] ?? 0) + count);
  return sum;
}

/** The states of a task a worker runs: a recrawl task `waiting` for its next visit runs too. */
const RUNNING: ReadonlySet<string> = new Set(["running", "waiting"]);

/**
 * One state for a task from the states of its placements (see `TaskView.state`): `running` if
 * any runs, `waiting` if the others wait (or have stopped) — waiting only when no worker of the
 * task has something to fetch.
 */
function overallState(placements: PlacementView[]): string {
  if (placements.length === 0) return "unassigned";
  const states = new Set(placements.map((p) => p.state));
  for (const state of ["running", "unknown", "pending", "unreachable", "waiting"]) {
    if (state === "pending" && states.has("not reported")) return "pending";
    if (states.has(state)) return state;
  }
  if (states.size === 1) return [...states][0];
  return states.has("stopped") ? "stopped" : "finished";
}

/** Pages per second between consecutive samples; a counter that went down (a restart) is 0. */
function rates(samples: Sample[]): number[] {
  const out: number[] = [];
  for (let i = 1; i < samples.length; i++) {
    const seconds = (samples[i].at - samples[i - 1].at) / 1000;
    const pages = samples[i].fetched - samples[i - 1].fetched;
    out.push(seconds > 0 && pages > 0 ? round(pages / seconds) : 0);
  }
  return out;
}

/** Pages per second over the last (up to) five intervals. */
function recentRate(samples: Sample[]): number {
  const recent = rates(samples).slice(-5);
  if (recent.length === 0) return 0;
  return round(recent.reduce((a, b) => a + b, 0) / recent.length);
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
