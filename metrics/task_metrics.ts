/**
 * @module
 * Per-task metrics (label `task`) of a worker, read from its tasks' counters at scrape time.
 */
import { Counter, Gauge, type Registry } from "prom-client";
import type { RecrawlStats, TaskStats } from "../spider/task_run.ts";
import type { HostCounts } from "../spider/politeness/host_counters.ts";
import { registerHostPolitenessMetrics } from "./host_politeness_metrics.ts";

/** A task as the worker reports it. */
export interface TaskSnapshot {
  name: string;
  state: string;
  stats?: TaskStats;
  /** The task's busiest hosts with their politeness counters (docs/frontier.md, "Politeness"). */
  hosts?: HostCounts[];
}

const COUNTERS: Array<[name: string, help: string, key: NumericStat]> = [
  ["crawler_task_pages_fetched_total", "Pages fetched, per task.", "fetched"],
  ["crawler_task_pages_failed_total", "Pages that failed for good, per task.", "failed"],
  ["crawler_task_retries_total", "Fetches tried again after a retriable failure.", "retried"],
  ["crawler_task_items_total", "Items extracted, per task.", "items"],
  ["crawler_task_duplicates_total", "Links dropped as already seen, per task.", "duplicates"],
  ["crawler_task_too_deep_total", "Links dropped as deeper than MaxDepth, per task.", "tooDeep"],
  [
    "crawler_task_disallowed_total",
    "Requests not fetched: robots.txt disallows them.",
    "disallowed",
  ],
  ["crawler_task_throttled_total", "429/503 answers waited out and tried again.", "throttled"],
  ["crawler_task_deferred_total", "Claims given back untried: their host was not due.", "deferred"],
  [
    "crawler_task_resource_exhausted_total",
    "Fetches that found the process out of file descriptors (or ports, memory): tried again.",
    "exhausted",
  ],
];

/** The counters of `TaskStats` that are numbers. */
type NumericStat = Exclude<keyof TaskStats, "frontier" | "stalled" | "render" | "recrawl">;

/** A recrawl task's revisit counters (docs/frontier.md, "Recrawl"); absent for other tasks. */
const RECRAWL_COUNTERS: Array<[name: string, help: string, key: RecrawlCounter]> = [
  ["crawler_task_revisits_total", "Pages fetched again after their recrawl interval.", "revisits"],
  ["crawler_task_not_modified_total", "Revisits answered 304 Not Modified.", "notModified"],
  [
    "crawler_task_unchanged_total",
    "Revisits answered 200 whose rule output was the same as last time.",
    "unchanged",
  ],
  ["crawler_task_changed_total", "Revisits whose rule output changed.", "changed"],
];

type RecrawlCounter = Exclude<keyof RecrawlStats, "nextDueAt">;

const GAUGES: Array<[name: string, help: string, key: NumericStat]> = [
  ["crawler_task_queue_size", "Requests waiting in the task's frontier.", "queued"],
  ["crawler_task_leased", "Requests taken from the frontier and not yet done.", "inFlight"],
];

/** Registers the per-task metrics and `crawler_worker_tasks{state}` on `registry`. */
export function registerTaskMetrics(registry: Registry, tasks: () => TaskSnapshot[]): void {
  const registers = [registry];
  for (const [name, help, key] of COUNTERS) {
    new Counter({
      name,
      help,
      labelNames: ["task"],
      registers,
      collect() {
        this.reset();
        for (const task of tasks()) {
          if (task.stats) this.inc({ task: task.name }, task.stats[key] ?? 0);
        }
      },
    });
  }
  for (const [name, help, key] of GAUGES) {
    new Gauge({
      name,
      help,
      labelNames: ["task"],
      registers,
      collect() {
        this.reset();
        for (const task of tasks()) {
          if (task.stats) this.set({ task: task.name }, task.stats[key] ?? 0);
        }
      },
    });
  }
  for (const [name, help, key] of RECRAWL_COUNTERS) {
    new Counter({
      name,
      help,
      labelNames: ["task"],
      registers,
      collect() {
        this.reset();
        for (const task of tasks()) {
          const recrawl = task.stats?.recrawl;
          if (recrawl) this.inc({ task: task.name }, recrawl[key]);
        }
      },
    });
  }
  registerHostPolitenessMetrics(registry, tasks);
  new Gauge({
    name: "crawler_task_frontier_requests",
    help: "The task's requests in its frontier by state (queued, leased, done, failed, and " +
      "scheduled: a recrawl task's pages waiting for their next visit): the same figures on " +
      "every worker of the task.",
    labelNames: ["task", "state"],
    registers,
    collect() {
      this.reset();
      for (const task of tasks()) {
        for (const [state, n] of Object.entries(task.stats?.frontier ?? {})) {
          // `due` is a part of `scheduled`, not a state of its own: it has its own gauge.
          if (state !== "due") this.set({ task: task.name, state }, n);
        }
      }
    },
  });
  new Gauge({
    name: "crawler_task_frontier_due",
    help: "A recrawl task's scheduled pages whose next visit is due now.",
    labelNames: ["task"],
    registers,
    collect() {
      this.reset();
      for (const task of tasks()) {
        const frontier = task.stats?.frontier;
        if (task.stats?.recrawl && frontier) this.set({ task: task.name }, frontier.due);
      }
    },
  });
  new Gauge({
    name: "crawler_task_next_due_time_seconds",
    help: "When a recrawl task's next visit is due, epoch seconds (subtract time() for how " +
      "long until then); absent while nothing is scheduled.",
    labelNames: ["task"],
    registers,
    collect() {
      this.reset();
      for (const task of tasks()) {
        const at = task.stats?.recrawl?.nextDueAt;
        if (at !== undefined) this.set({ task: task.name }, at / 1000);
      }
    },
  });
  new Gauge({
    name: "crawler_worker_tasks",
    help: "Tasks assigned to this worker, by state.",
    labelNames: ["state"],
    registers,
    collect() {
      const counts = new Map(
        ["claiming", "running", "waiting", "finished", "failed", "stopped", "unknown", "paused"]
          .map((
            s,
          ) => [s, 0]),
      );
      for (const task of tasks()) counts.set(task.state, (counts.get(task.state) ?? 0) + 1);
      for (const [state, count] of counts) this.set({ state }, count);
    },
  });
}
