/**
 * @module
 * Per-host politeness figures of each task (labels `task`, `host`; docs/frontier.md, "Politeness"):
 * requests, 429/503s, disallowed URLs, the delay in force and the end of a Retry-After block. Only
 * the hosts a task's status lists (its busiest), so the series stay few.
 */
import { Counter, Gauge, type Registry } from "prom-client";
import type { HostCounts } from "../spider/politeness/host_counters.ts";

interface HostMetric {
  name: string;
  help: string;
  type: "counter" | "gauge";
  value: (h: HostCounts) => number;
}

const METRICS: HostMetric[] = [
  {
    name: "crawler_host_requests_total",
    help: "Requests started to the host, per task.",
    type: "counter",
    value: (h) => h.requests,
  },
  {
    name: "crawler_host_throttled_total",
    help: "429 and 503 answers from the host, per task.",
    type: "counter",
    value: (h) => h.throttled,
  },
  {
    name: "crawler_host_disallowed_total",
    help: "URLs of the host robots.txt disallows, per task.",
    type: "counter",
    value: (h) => h.disallowed,
  },
  {
    name: "crawler_host_delay_seconds",
    help: "Least time between two requests to the host, now.",
    type: "gauge",
    value: (h) => h.delayMs / 1000,
  },
  {
    name: "crawler_host_blocked_until_seconds",
    help: "Epoch seconds the host is blocked until (Retry-After), 0 if it is not.",
    type: "gauge",
    value: (h) => h.blockedUntil / 1000,
  },
];

/** Registers the per-host series of the tasks `tasks()` reports, read at scrape time. */
export function registerHostPolitenessMetrics(
  registry: Registry,
  tasks: () => Array<{ name: string; hosts?: HostCounts[] }>,
): void {
  for (const { name, help, type, value } of METRICS) {
    const Metric = type === "counter" ? Counter : Gauge;
    new Metric({
      name,
      help,
      labelNames: ["task", "host"],
      registers: [registry],
      collect(this: Counter<"task" | "host"> | Gauge<"task" | "host">) {
        this.reset();
        for (const task of tasks()) {
          for (const h of task.hosts ?? []) {
            const labels = { task: task.name, host: h.host };
            if (this instanceof Counter) this.inc(labels, value(h));
            else this.set(labels, value(h));
          }
        }
      },
    });
  }
}
