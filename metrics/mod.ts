/**
 * @module
 * Prometheus metrics on npm `prom-client`: per task, per fetch, per host (bounded), the
 * browser, process.
 */
export { BrowserMetrics } from "./browser_metrics.ts";
export { FetchMetrics, type FetchMetricsOptions, type StatusClass } from "./fetch_metrics.ts";
export { registerProcessMetrics } from "./process_metrics.ts";
export { registerTaskMetrics, type TaskSnapshot } from "./task_metrics.ts";
export { createWorkerRegistry, type WorkerRegistryOptions } from "./worker_registry.ts";
