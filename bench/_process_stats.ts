/**
 * @module
 * What a bench crawl measures of its own process: peak resident memory, sampled while it runs,
 * and CPU time; and the figures it prints for `bench/mod.ts`.
 */

/** Samples `Deno.memoryUsage().rss` every `intervalMs`; `stop()` returns the peak in bytes. */
export function sampleRss(intervalMs = 50): { stop(): number } {
  let peak = Deno.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, Deno.memoryUsage().rss);
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, Deno.memoryUsage().rss);
    },
  };
}

/**
 * CPU seconds (user + system) this process has used, all threads; undefined where
 * `/proc/self/stat` does not exist (not Linux). Clock ticks are 1/100 s on Linux.
 */
export function cpuSeconds(): number | undefined {
  try {
    const stat = Deno.readTextFileSync("/proc/self/stat");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** What a bench crawl prints on its last stdout line, as JSON. */
export interface CrawlFigures {
  pages: number;
  failed: number;
  items: number;
  seconds: number;
  peakRssBytes: number;
  /** CPU seconds of the whole crawl process, start-up included (Linux only). */
  cpuSeconds?: number;
}

/** What {@linkcode sampleProcess} saw of another process. */
export interface ProcessPeaks {
  /** Most open file descriptors at one sample (sockets, files, pipes: `/proc/PID/fd`). */
  maxFds: number;
  /** Peak resident memory, bytes (the kernel's own high-water mark, `VmHWM`). */
  peakRssBytes: number;
  /** Resident memory at the last sample, bytes. */
  rssBytes: number;
  /** Open file descriptors at the last sample. */
  fds: number;
  samples: number;
}

/**
 * Samples another process every `intervalMs` (default 200): its open file descriptors and its
 * resident memory, from `/proc` (Linux only; elsewhere every figure stays 0). A sample that
 * finds the process gone is skipped, so the peaks are those of its life. `stop()` ends the
 * sampling and returns the peaks.
 */
export function sampleProcess(
  pid: number,
  options: { intervalMs?: number } = {},
): { readonly peaks: ProcessPeaks; stop(): ProcessPeaks } {
  const peaks: ProcessPeaks = { maxFds: 0, peakRssBytes: 0, rssBytes: 0, fds: 0, samples: 0 };
  let busy = false;
  const sample = async () => {
    if (busy) return; // a slow /proc read (tens of thousands of sockets) skips a tick
    busy = true;
    try {
      let fds = 0;
      for await (const _ of Deno.readDir(`/proc/${pid}/fd`)) fds++;
      const status = await Deno.readTextFile(`/proc/${pid}/status`);
      const kib = (key: string) =>
        Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1]);
      peaks.fds = fds;
      peaks.maxFds = Math.max(peaks.maxFds, fds);
      peaks.rssBytes = (kib("VmRSS") || 0) * 1024;
      peaks.peakRssBytes = Math.max(peaks.peakRssBytes, (kib("VmHWM") || 0) * 1024);
      peaks.samples++;
    } catch (error) {
      // The process has exited (or this is not Linux): nothing more to see.
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => {
    sample().catch((error) => console.error(`sampling process ${pid}:`, error));
  }, options.intervalMs ?? 200);
  sample().catch((error) => console.error(`sampling process ${pid}:`, error));
  return {
    peaks,
    stop() {
      clearInterval(timer);
      return { ...peaks };
    },
  };
}
