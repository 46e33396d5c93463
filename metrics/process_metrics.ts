/**
 * @module
 * The standard `process_*` metrics (CPU, memory, open files, start time), read at scrape time.
 * prom-client's own default collectors keep a timer running and report `Nan` under Deno, so
 * these few are written here with its metric types.
 */
import process from "node:process";
import { Counter, Gauge, type Registry } from "prom-client";

/** Registers the process metrics on `registry`. */
export function registerProcessMetrics(registry: Registry): void {
  const registers = [registry];
  new Counter({
    name: "process_cpu_seconds_total",
    help: "Total user and system CPU time spent in seconds.",
    registers,
    collect() {
      const usage = process.cpuUsage();
      this.reset();
      this.inc((usage.user + usage.system) / 1e6);
    },
  });
  new Gauge({
    name: "process_resident_memory_bytes",
    help: "Resident memory size in bytes.",
    registers,
    collect() {
      this.set(Deno.memoryUsage().rss);
    },
  });
  new Gauge({
    name: "process_heap_bytes",
    help: "JavaScript heap in use, in bytes.",
    registers,
    collect() {
      this.set(Deno.memoryUsage().heapUsed);
    },
  });
  new Gauge({
    name: "process_start_time_seconds",
    help: "Start time of the process since unix epoch in seconds.",
    registers,
  }).set(Math.round((Date.now() - performance.now()) / 1000));
  new Gauge({
    name: "process_open_fds",
    help: "Number of open file descriptors (Linux only).",
    registers,
    collect() {
      const count = openFileDescriptors();
      if (count !== undefined) this.set(count);
    },
  });
}

function openFileDescriptors(): number | undefined {
  try {
    let count = 0;
    for (const _ of Deno.readDirSync("/proc/self/fd")) count++;
    return count;
  } catch {
    return undefined; // not Linux, or /proc is not mounted
  }
}
