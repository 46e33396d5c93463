/**
 * @module
 * Keeping track of this worker's Chromium processes so none outlives it: a pid file naming the
 * browsers running now (each the leader of its own process group, with a profile under the
 * worker's browser dir), and the sweep at start-up that kills what a worker killed with -9 left.
 */
import { z } from "zod";
import type { Logger } from "../../log/logger.ts";

/** The pid file: which process wrote it, and the browsers it had running. */
const pidFileSchema = z.object({
  /** The worker process that launched them. */
  worker: z.number().int().positive(),
  /** That process's executable (`Deno.execPath()`), to tell it from an unrelated reused pid. */
  exe: z.string(),
  browsers: z.array(z.object({
    pid: z.number().int().positive(),
    userDataDir: z.string().min(1),
  })),
});
type PidFileContent = z.infer<typeof pidFileSchema>;

/** The pid file in a worker's browser dir. */
export function pidFilePath(dataDir: string): string {
  return `${dataDir}/chromium.pid`;
}

/**
 * The browser dir of a worker when `[browser] dataDir` is not set:
 * `<TMPDIR or /tmp>/crawler-browser-<worker id>`.
 */
export function defaultBrowserDir(workerId: string): string {
  const tmp = (Deno.env.get("TMPDIR") || "/tmp").replace(/\/+$/, "");
  return `${tmp}/crawler-browser-${workerId.replace(/[^A-Za-z0-9._-]/g, "_")}`;
}

/**
 * The browsers this process has running, written to the pid file on every change so that the
 * next start of the worker finds them even if this one is killed with -9.
 */
export class BrowserPidFile {
  readonly path: string;
  readonly #browsers = new Map<number, string>();

  constructor(dataDir: string) {
    this.path = pidFilePath(dataDir);
  }

  /** Records a browser just launched. */
  add(pid: number, userDataDir: string): void {
    this.#browsers.set(pid, userDataDir);
    this.#write();
  }

  /** Forgets a browser that has exited; the file goes with the last one. */
  remove(pid: number): void {
    if (!this.#browsers.delete(pid)) return;
    this.#write();
  }

  #write(): void {
    if (this.#browsers.size === 0) {
      try {
        Deno.removeSync(this.path);
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
      return;
    }
    const content: PidFileContent = {
      worker: Deno.pid,
      exe: Deno.execPath(),
      browsers: [...this.#browsers].map(([pid, userDataDir]) => ({ pid, userDataDir })),
    };
    // Written whole and renamed: a kill -9 mid-write leaves the old file, not half a new one.
    const temporary = `${this.path}.${Deno.pid}.tmp`;
    Deno.writeTextFileSync(temporary, JSON.stringify(content));
    Deno.renameSync(temporary, this.path);
  }
}

/** What {@linkcode reapOrphanBrowsers} did. */
export interface ReapResult {
  /** Processes killed. */
  killed: number;
  /** Set when the dir belongs to another live worker process: nothing was touched. */
  inUseBy?: number;
}

/**
 * Kills every Chromium process a previous run of this worker left behind in `dataDir` (one
 * killed with -9 cannot close its browsers) and removes their profiles. The pid file names the
 * browsers; each is killed with its process group only if its command line still shows its
 * profile dir (the pid may have been reused by another program since). A scan of `/proc` then
 * catches any process still running with a profile in `dataDir`. When the pid file was written
 * by another live process of this program, the dir is in use and nothing is done.
 */
export function reapOrphanBrowsers(dataDir: string, options: { logger: Logger }): ReapResult {
  try {
    Deno.statSync(dataDir);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { killed: 0 }; // no browser ever ran here
    throw error;
  }
  const path = pidFilePath(dataDir);
  let recorded: PidFileContent | undefined;
  try {
    const parsed = pidFileSchema.safeParse(JSON.parse(Deno.readTextFileSync(path)));
    if (parsed.success) recorded = parsed.data;
    else options.logger.warn("ignoring a malformed browser pid file", { path });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) {
      options.logger.warn("cannot read the browser pid file", { path, error });
    }
  }
  if (
    recorded && recorded.worker !== Deno.pid && processExe(recorded.worker) === recorded.exe
  ) {
    options.logger.warn("browser dir in use by another live worker process: left alone", {
      dataDir,
      process: recorded.worker,
    });
    return { killed: 0, inUseBy: recorded.worker };
  }
  let killed = 0;
  for (const browser of recorded?.browsers ?? []) {
    if (!commandLine(browser.pid)?.includes(`--user-data-dir=${browser.userDataDir}`)) continue;
    killGroup(browser.pid);
    killed++;
  }
  for (const pid of processesWithProfileIn(dataDir)) {
    if (kill(pid)) killed++;
  }
  if (killed > 0) {
    options.logger.warn("killed browsers left by an earlier run of this worker", {
      dataDir,
      processes: killed,
    });
  }
  removeProfiles(dataDir);
  try {
    Deno.removeSync(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return { killed };
}

/** Kills a browser's whole process group (it leads one: puppeteer starts it detached). */
export function killGroup(pid: number): void {
  try {
    Deno.kill(-pid, "SIGKILL");
  } catch {
    // The group is gone already; the leader alone may linger as a zombie of ours.
  }
  kill(pid);
}

/** Live (not zombie) processes whose command line has a `--user-data-dir` inside `dataDir`. */
export function processesWithProfileIn(dataDir: string): number[] {
  const marker = `--user-data-dir=${dataDir}/`;
  const found: number[] = [];
  let entries: Iterable<Deno.DirEntry>;
  try {
    entries = Deno.readDirSync("/proc");
  } catch {
    return found; // no /proc (not Linux): the pid file is all there is
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry.name)) continue;
    const pid = Number(entry.name);
    if (pid === Deno.pid) continue;
    if (commandLine(pid)?.includes(marker)) found.push(pid);
  }
  return found;
}

/** The NUL-separated command line of a live process, or undefined (gone, or a zombie's empty one). */
function commandLine(pid: number): string | undefined {
  try {
    const text = Deno.readTextFileSync(`/proc/${pid}/cmdline`);
    return text === "" ? undefined : text.replaceAll("\0", " ");
  } catch {
    return undefined;
  }
}

function processExe(pid: number): string | undefined {
  try {
    return Deno.readLinkSync(`/proc/${pid}/exe`);
  } catch {
    return undefined;
  }
}

function kill(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGKILL");
    return true;
  } catch {
    return false; // exited meanwhile
  }
}

/** Removes the profile dirs in `dataDir` (the browsers using them are gone). */
function removeProfiles(dataDir: string): void {
  let entries: Iterable<Deno.DirEntry>;
  try {
    entries = Deno.readDirSync(dataDir);
  } catch {
    return;
  }
  for (const entry of entries) {
    if (!entry.isDirectory || !entry.name.startsWith("profile-")) continue;
    try {
      Deno.removeSync(`${dataDir}/${entry.name}`, { recursive: true });
    } catch {
      // A process that died a moment ago may still be writing into it; the next sweep retries.
    }
  }
}
