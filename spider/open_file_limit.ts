/**
 * @module
 * The process's limit on open file descriptors (`ulimit -n`), so the fetcher's socket bound can
 * stay under it: sockets, the frontier's and results' database files and the runtime's own
 * descriptors all count against it.
 */

/** The soft limit on open files from /proc/self/limits; undefined where it cannot be read. */
export function openFileLimit(read: () => string = readLimits): number | undefined {
  let text: string;
  try {
    text = read();
  } catch {
    return undefined;
  }
  const line = text.split("\n").find((l) => l.startsWith("Max open files"));
  const soft = line?.slice("Max open files".length).trim().split(/\s+/)[0];
  const limit = Number(soft);
  return Number.isFinite(limit) && limit > 0 ? limit : undefined;
}

/**
 * The most sockets the fetcher may hold in a process whose open-file limit is `limit`: half of
 * it, leaving the rest to databases, pipes and the runtime. Undefined: no limit known.
 */
export function socketBudget(limit: number | undefined): number | undefined {
  return limit === undefined ? undefined : Math.max(8, Math.floor(limit / 2));
}

function readLimits(): string {
  return Deno.readTextFileSync("/proc/self/limits");
}
