/**
 * @module
 * What a worker reports about its tasks (`CrawlerWorker.Status`): the shape both sides use, and
 * the one pair of functions that turn it into the `WorkerStatus` message and back.
 */
import type {
  HostActivityMessage,
  RecrawlStatsMessage,
  RenderStatsMessage,
  TaskErrorMessage,
  TaskStatusMessage,
  WorkerStatusMessage,
} from "./crawler_grpc.ts";
import type { RenderStats } from "../spider/browser/render_stats.ts";
import type { RecrawlStats } from "../spider/task_run.ts";
import type { FrontierCounts } from "../frontier/frontier.ts";

/** Counters of one task run on one worker. */
export interface TaskReportStats {
  fetched: number;
  failed: number;
  retried: number;
  items: number;
  queued: number;
  inFlight: number;
  /** Requests claimed under lease in a durable frontier; absent: `inFlight` stands for it. */
  leased?: number;
  /** Milliseconds since the epoch. */
  startedAt: number;
  finishedAt?: number;
  /** Why the task has made no progress for a minute with work queued (`stalled: <reason>`). */
  stalled?: string;
  /** Sitemap files read, and the page URLs they listed (absent: none). */
  sitemaps?: number;
  sitemapUrls?: number;
  /** What the task's pages did in the browser (absent: it renders no page). */
  render?: RenderStats;
  /** Its revisits (absent: it does not recrawl). */
  recrawl?: RecrawlStats;
  /**
   * The task's frontier, as far as the report carries it: a recrawl task's `scheduled` and
   * `due` (a worker's own `TaskStats.frontier` has every count).
   */
  frontier?: Pick<FrontierCounts, "scheduled" | "due">;
}

/**
 * A recrawl task's revisits with its frontier's schedule: what the `RecrawlStats` message
 * carries (docs/frontier.md, "Recrawl").
 */
export interface RecrawlReport extends RecrawlStats {
  /** Pages fetched and waiting for their next visit, due or not. */
  scheduled: number;
  /** Of `scheduled`, those due now. */
  due: number;
}

/**
 * A host a task fetched from, with its politeness state when the worker has it (docs/frontier.md,
 * "Politeness").
 */
export interface HostReport {
  host: string;
  fetched: number;
  failed: number;
  /** 429/503 answers from the host. */
  throttled?: number;
  /** URLs of the host robots.txt disallowed. */
  disallowed?: number;
  /** The delay between requests to the host in force, ms. */
  delayMs?: number;
  /** Until when the host is blocked (Retry-After or backoff), ms since the epoch; 0: not. */
  blockedUntil?: number;
}

/** The politeness counters a worker keeps per host (`hosts` in its task status). */
export interface HostPolitenessReport {
  /** `scheme://host:port`. */
  host: string;
  throttled: number;
  disallowed: number;
  delayMs: number;
  blockedUntil: number;
}

/** One task as a worker reports it. */
export interface TaskReport {
  name: string;
  /** The resource's ID. */
  id: string;
  /** running, paused, finished, stopped or unknown. */
  state: string;
  error?: string;
  /** Absent when the task has no run here (paused, or it cannot run). */
  stats?: TaskReportStats;
  activity?: {
    errors: Array<{ url: string; error: string; at: number }>;
    hosts: HostReport[];
  };
  /** Per-host politeness counters, merged into `activity.hosts` on the wire. */
  hosts?: HostPolitenessReport[];
}

/** A worker's answer to `Status`. */
export interface WorkerReport {
  id: string;
  /** Registered and following its assignments. */
  ready: boolean;
  tasks: TaskReport[];
}

/** The `WorkerStatus` message for a report. */
export function workerReportToMessage(report: WorkerReport): WorkerStatusMessage {
  return {
    id: report.id,
    ready: report.ready,
    tasks: report.tasks.map((t): TaskStatusMessage => ({
      name: t.name,
      id: t.id,
      state: t.state,
      error: t.error ?? "",
      fetched: t.stats?.fetched ?? 0,
      failed: t.stats?.failed ?? 0,
      items: t.stats?.items ?? 0,
      queued: t.stats?.queued ?? 0,
      in_flight: t.stats?.inFlight ?? 0,
      retried: t.stats?.retried ?? 0,
      started_at: t.stats?.startedAt ?? 0,
      finished_at: t.stats?.finishedAt ?? 0,
      leased: t.stats?.leased ?? t.stats?.inFlight ?? 0,
      stalled: t.stats?.stalled ?? "",
      sitemaps: t.stats?.sitemaps ?? 0,
      sitemap_urls: t.stats?.sitemapUrls ?? 0,
      render: t.stats?.render ? { ...t.stats.render } : null,
      recrawl: t.stats?.recrawl
        ? recrawlToMessage({
          ...t.stats.recrawl,
          scheduled: t.stats.frontier?.scheduled ?? 0,
          due: t.stats.frontier?.due ?? 0,
        })
        : null,
      errors: (t.activity?.errors ?? []).map((e) => ({ url: e.url, error: e.error, at: e.at })),
      hosts: withPoliteness(t.activity?.hosts ?? [], t.hosts ?? []).map(hostToMessage),
    })),
  };
}

/** The report a `WorkerStatus` message carries (int64s arrive as decimal strings). */
export function workerReportFromMessage(message: WorkerStatusMessage): WorkerReport {
  return {
    id: message.id,
    ready: message.ready,
    tasks: (message.tasks ?? []).map((t): TaskReport => {
      const startedAt = Number(t.started_at ?? 0);
      const finishedAt = Number(t.finished_at ?? 0);
      const report: TaskReport = { name: t.name, id: t.id, state: t.state };
      if (t.error) report.error = t.error;
      // A task with a run has a start time; one without (paused, unknown) has no counters.
      if (startedAt > 0) {
        report.stats = {
          fetched: Number(t.fetched),
          failed: Number(t.failed),
          retried: Number(t.retried ?? 0),
          items: Number(t.items),
          queued: Number(t.queued),
          inFlight: Number(t.in_flight),
          leased: Number(t.leased ?? t.in_flight),
          startedAt,
          ...(finishedAt > 0 ? { finishedAt } : {}),
          ...(t.stalled ? { stalled: t.stalled } : {}),
          ...(Number(t.sitemaps ?? 0) > 0
            ? { sitemaps: Number(t.sitemaps), sitemapUrls: Number(t.sitemap_urls ?? 0) }
            : {}),
          ...(t.render ? { render: renderFromMessage(t.render) } : {}),
          ...(t.recrawl ? recrawlStatsOf(recrawlFromMessage(t.recrawl)) : {}),
        };
        report.activity = {
          errors: (t.errors ?? []).map(errorFromMessage),
          hosts: (t.hosts ?? []).map(hostFromMessage),
        };
      }
      return report;
    }),
  };
}

/** The `RecrawlStats` message of a task's revisits and schedule. */
export function recrawlToMessage(r: RecrawlReport): RecrawlStatsMessage {
  return {
    revisits: r.revisits,
    not_modified: r.notModified,
    unchanged: r.unchanged,
    changed: r.changed,
    scheduled: r.scheduled,
    due: r.due,
    next_due_at: r.nextDueAt ?? 0,
  };
}

/** The revisits and schedule a `RecrawlStats` message carries (int64s as decimal strings). */
function recrawlFromMessage(r: RecrawlStatsMessage): RecrawlReport {
  const nextDueAt = Number(r.next_due_at ?? 0);
  return {
    revisits: Number(r.revisits ?? 0),
    notModified: Number(r.not_modified ?? 0),
    unchanged: Number(r.unchanged ?? 0),
    changed: Number(r.changed ?? 0),
    scheduled: Number(r.scheduled ?? 0),
    due: Number(r.due ?? 0),
    ...(nextDueAt > 0 ? { nextDueAt } : {}),
  };
}

/** A report's `recrawl` and `frontier` from the revisits and schedule of the message. */
function recrawlStatsOf(
  r: RecrawlReport,
): Pick<TaskReportStats, "recrawl" | "frontier"> {
  const { scheduled, due, ...recrawl } = r;
  return { recrawl, frontier: { scheduled, due } };
}

function renderFromMessage(r: RenderStatsMessage): RenderStats {
  return {
    rendered: Number(r.rendered),
    failed: Number(r.failed),
    seconds: (r.seconds ?? []).map(Number),
    open: Number(r.open),
    restarts: Number(r.restarts),
  };
}

function errorFromMessage(e: TaskErrorMessage): { url: string; error: string; at: number } {
  return { url: e.url, error: e.error, at: Number(e.at) };
}

function hostFromMessage(h: HostActivityMessage): HostReport {
  const host: HostReport = { host: h.host, fetched: Number(h.fetched), failed: Number(h.failed) };
  const throttled = Number(h.throttled ?? 0);
  const disallowed = Number(h.disallowed ?? 0);
  const delayMs = Number(h.delay_ms ?? 0);
  const blockedUntil = Number(h.blocked_until ?? 0);
  // Only a host the worker has politeness state for carries it.
  if (throttled || disallowed || delayMs || blockedUntil) {
    Object.assign(host, { throttled, disallowed, delayMs, blockedUntil });
  }
  return host;
}

function hostToMessage(h: HostReport): HostActivityMessage {
  return {
    host: h.host,
    fetched: h.fetched,
    failed: h.failed,
    throttled: h.throttled ?? 0,
    disallowed: h.disallowed ?? 0,
    delay_ms: h.delayMs ?? 0,
    blocked_until: h.blockedUntil ?? 0,
  };
}

/**
 * The busiest hosts with the politeness state of each. Activity names a host as a URL's `host`
 * (`example.com`, `127.0.0.1:8088`), politeness as `scheme://host:port`; both meet on the URL
 * `host`, which leaves out default ports.
 */
export function withPoliteness(
  hosts: readonly HostReport[],
  politeness: readonly HostPolitenessReport[],
): HostReport[] {
  const byHost = new Map<string, HostPolitenessReport>();
  for (const p of politeness) {
    try {
      byHost.set(new URL(p.host).host, p);
    } catch {
      byHost.set(p.host, p); // not a URL (the "(other)" bucket): matched by name or not at all
    }
  }
  return hosts.map((h) => {
    const p = byHost.get(h.host);
    if (!p) return h;
    return {
      ...h,
      throttled: p.throttled,
      disallowed: p.disallowed,
      delayMs: p.delayMs,
      blockedUntil: p.blockedUntil,
    };
  });
}
