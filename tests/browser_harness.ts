/**
 * @module
 * What the browser tests share: finding Chromium, the processes running with a profile in a
 * worker's browser dir (as `pgrep -f` sees them), and the pages open in those browsers, counted
 * through the DevTools protocol.
 */
import { chromiumPath } from "../spider/browser/chromium_binary.ts";
import { every } from "./kit/wait.ts";

/** Fails with what to install when there is no Chromium (`deno task test` installs it). */
export async function requireChromium(): Promise<void> {
  const path = chromiumPath();
  try {
    await Deno.stat(path);
  } catch {
    throw new Error(
      `Chromium is not installed at ${path}: the browser tests need a real one. Install ` +
        `Debian's package with "apt-get install -y chromium" (or set CHROMIUM_PATH).`,
    );
  }
}

/** Pids of the processes whose command line mentions `dir` (`pgrep -f`). */
export async function chromiumIn(dir: string): Promise<number[]> {
  const output = await new Deno.Command("pgrep", { args: ["-f", "--", `--user-data-dir=${dir}`] })
    .output();
  // 1: none matched.
  if (output.code === 1) return [];
  if (!output.success) throw new Error(`pgrep failed: ${new TextDecoder().decode(output.stderr)}`);
  return new TextDecoder().decode(output.stdout).split("\n").filter(Boolean).map(Number);
}

/**
 * The page targets open now in every browser with a profile in `dataDir`, summed: each
 * browser's DevTools endpoint (its port is in the profile's `DevToolsActivePort`) lists them.
 * The browsers are asked at the same moment, so a page closed in one and opened in another
 * is not counted twice.
 */
export async function pagesOpen(dataDir: string): Promise<{ pages: number; browsers: string[] }> {
  const ports: string[] = [];
  try {
    for await (const entry of Deno.readDir(dataDir)) {
      if (!entry.name.startsWith("profile-")) continue;
      try {
        const text = await Deno.readTextFile(`${dataDir}/${entry.name}/DevToolsActivePort`);
        const port = text.split("\n")[0].trim();
        if (port) ports.push(port);
      } catch {
        // Not listening yet, or closed meanwhile.
      }
    }
  } catch {
    return { pages: 0, browsers: [] }; // no browser dir yet
  }
  const counts = await Promise.all(ports.map(async (port) => {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/json/list`, {
        signal: AbortSignal.timeout(2000),
      });
      const targets = await response.json() as Array<{ type: string }>;
      return targets.filter((t) => t.type === "page").length;
    } catch {
      return 0; // closed between the read and the request
    }
  }));
  return { pages: counts.reduce((a, b) => a + b, 0), browsers: ports };
}

/**
 * Samples `pagesOpen(dataDir)` every `everyMs` until `stop` is called; resolves with the most
 * pages seen at once and every browser (DevTools port) seen.
 */
export function samplePages(
  dataDir: string,
  everyMs = 100,
): { stop(): Promise<{ maxPages: number; browsers: Set<string>; samples: number }> } {
  const browsers = new Set<string>();
  let maxPages = 0;
  let samples = 0;
  const sampler = every(everyMs, async () => {
    const seen = await pagesOpen(dataDir);
    samples++;
    maxPages = Math.max(maxPages, seen.pages);
    for (const port of seen.browsers) browsers.add(port);
  });
  return {
    async stop() {
      await sampler.stop();
      return { maxPages, browsers, samples };
    },
  };
}
