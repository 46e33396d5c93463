/**
 * @module
 * Runs the real `crawler` CLI (`main.ts`) in a child process, as a user would.
 */

const MAIN = new URL("../main.ts", import.meta.url).pathname;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Starts `crawler <args>`; the caller reads its output and awaits `status`. */
export function spawnCrawler(args: string[], options: { cwd?: string } = {}): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, ...args],
    cwd: options.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
}

/** Runs `crawler <args>` to the end. */
export async function runCrawler(
  args: string[],
  options: { cwd?: string } = {},
): Promise<CliResult> {
  const output = await spawnCrawler(args, options).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}
