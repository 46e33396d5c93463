/**
 * @module
 * Where Chromium is and how it is started: the binary (`[browser] executablePath`,
 * `CHROMIUM_PATH`, Debian's `/usr/bin/chromium`), the check that a task needing it can run, and
 * the flags of a quiet headless browser that talks to nothing but the pages it is sent to.
 */
import type { Task } from "../task.ts";
import { taskRenders } from "./render_options.ts";

/** Where Debian's `chromium` package puts its launcher. */
export const DEBIAN_CHROMIUM = "/usr/bin/chromium";

/**
 * The Chromium binary to run: `configured` (`[browser] executablePath`), else `CHROMIUM_PATH`,
 * else Debian's `/usr/bin/chromium`.
 */
export function chromiumPath(configured?: string): string {
  return configured ?? (Deno.env.get("CHROMIUM_PATH") || DEBIAN_CHROMIUM);
}

/** No Chromium to run: a task that renders pages cannot start. */
export class BrowserUnavailableError extends Error {
  /** The binary that was looked for. */
  readonly executablePath: string;

  /** No Chromium at `executablePath`; `options.cause` says why. */
  constructor(executablePath: string, options?: ErrorOptions) {
    super(
      `Chromium not found at ${executablePath}: pages with Fetcher = "browser" or a rule's ` +
        `"render" need it. Set [browser] executablePath (or CHROMIUM_PATH) to a Chromium binary, ` +
        `or install Debian's: apt-get install -y chromium`,
      options,
    );
    this.name = "BrowserUnavailableError";
    this.executablePath = executablePath;
  }
}

/** Why `path` cannot be run as Chromium, or undefined if it can (a file with an execute bit). */
export function chromiumProblem(path: string): string | undefined {
  try {
    const info = Deno.statSync(path);
    if (!info.isFile) return "not a file";
    if (info.mode !== null && (info.mode & 0o111) === 0) return "not executable";
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/**
 * Throws a {@linkcode BrowserUnavailableError} if `task` renders pages and there is no Chromium
 * at `executablePath`: the task fails at its start, not page by page.
 *
 * @example
 * ```ts
 * requireBrowserFor(task, chromiumPath(config.browser.executablePath));
 * ```
 */
export function requireBrowserFor(task: Task, executablePath: string): void {
  if (!taskRenders(task)) return;
  const problem = chromiumProblem(executablePath);
  if (problem !== undefined) {
    throw new BrowserUnavailableError(executablePath, { cause: new Error(problem) });
  }
}

/**
 * Flags for a Chromium that crawls (puppeteer adds `--headless` and its own automation flags): no GPU, no sandbox as root (Chromium refuses to
 * start sandboxed as root), no popups, no background traffic of its own (updates, sync, crash
 * reports), a small `/dev/shm` tolerated.
 */
export function chromiumArgs(): string[] {
  return [
    ...(Deno.uid() === 0 ? ["--no-sandbox"] : []),
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-breakpad",
    "--disable-crash-reporter",
    "--disable-extensions",
    "--block-new-web-contents",
    "--mute-audio",
    // A page navigated away from is not kept alive for "back": memory stays flat over a crawl.
    "--disable-features=BackForwardCache",
    "--window-size=1280,1024",
  ];
}
