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
