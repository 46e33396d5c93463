/**
 * @module
 * Runs the real `crawler` CLI (`main.ts`) in a child process, as a user would.
 */

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of a `crawler` child process. */
export interface CrawlerRunOptions {
  cwd?: string;
  /**
   * The API token, passed as `CRAWLER_TOKEN`. Default: none; a token in the test runner's own
   * environment is not passed on, so tests on loopback run without auth unless they ask.
   */
  token?: string;
}

/** Starts `crawler <args>`; the caller reads its output and awaits `status`. */
export function spawnCrawler(args: string[], options: CrawlerRunOptions = {}): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, ...args],
    cwd: options.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", CRAWLER_TOKEN: options.token ?? "" },
  }).spawn();
}

/** Runs `crawler <args>` to the end. */
export async function runCrawler(
  args: string[],
  options: CrawlerRunOptions = {},
): Promise<CliResult> {
  const output = await spawnCrawler(args, options).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}
