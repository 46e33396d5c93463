/**
 * @module
 * A worker's `/metrics`: its tasks, its fetches, its browser and the process.
 */
import { Gauge, Registry } from "prom-client";
import type { FetchMetrics } from "./fetch_metrics.ts";
import type { BrowserMetrics } from "./browser_metrics.ts";
import { registerProcessMetrics } from "./process_metrics.ts";
import { registerTaskMetrics, type TaskSnapshot } from "./task_metrics.ts";

/** Options of {@linkcode createWorkerRegistry}. */
export interface WorkerRegistryOptions {
  workerId: string;
  tasks: () => TaskSnapshot[];
  /** The engine's fetch metrics. Default: none (no fetch series). */
  fetch?: FetchMetrics;
  /** The engine's browser metrics. Default: none (no browser series). */
  browser?: BrowserMetrics;
}

/** The registry a worker serves at `/metrics`. */
export function createWorkerRegistry(options: WorkerRegistryOptions): Registry {
  const registry = new Registry();
  new Gauge({
    name: "crawler_worker_info",
    help: "Always 1; the worker's id as a label.",
    labelNames: ["worker"],
    registers: [registry],
  }).set({ worker: options.workerId }, 1);
  registerTaskMetrics(registry, options.tasks);
  options.fetch?.register(registry);
  options.browser?.register(registry);
  registerProcessMetrics(registry);
  return registry;
}
