/**
 * @module
 * What a worker reports about its tasks (`CrawlerWorker.Status`): the shape both sides use, and
 * the one pair of functions that turn it into the `WorkerStatus` message and back.
 */
import type {
  HostActivityMessage,
  TaskErrorMessage,
  TaskStatusMessage,
  WorkerStatusMessage,
} from "./crawler_grpc.ts";

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
    hosts: Array<{ host: string; fetched: number; failed: number }>;
  };
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
      errors: (t.activity?.errors ?? []).map((e) => ({ url: e.url, error: e.error, at: e.at })),
      hosts: t.activity?.hosts ?? [],
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

function errorFromMessage(e: TaskErrorMessage): { url: string; error: string; at: number } {
  return { url: e.url, error: e.error, at: Number(e.at) };
}

function hostFromMessage(
  h: HostActivityMessage,
): { host: string; fetched: number; failed: number } {
  return { host: h.host, fetched: Number(h.fetched), failed: Number(h.failed) };
}
