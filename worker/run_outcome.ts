/**
 * @module
 * How a worker reports a task run that has ended: a run that ends without having fetched a
 * single page (its roots failed, or there were none) is `failed`, with why, not `finished`.
 * Kept out of the engine so the engine's own states stay what the engine knows.
 */
import type { TaskRun } from "../spider/task_run.ts";

/** What a worker reports about a run: the engine's state, or `failed` with the reason. */
export interface RunOutcome {
  state: "running" | "finished" | "stopped" | "failed";
  error?: string;
}

/** The outcome of `run` as the worker's status and the standalone summary show it. */
export function runOutcome(run: TaskRun): RunOutcome {
  if (run.state !== "finished" || run.stats.fetched > 0) return { state: run.state };
  const { failed } = run.stats;
  return {
    state: "failed",
    error: failed > 0
      ? `no page could be fetched: the root request failed (${failed} failed)`
      : "the task produced no root request to crawl",
  };
}
