/**
 * @module
 * Makes `dashboard_app.js`, the script the dashboard page loads, from `dashboard_app.ts`: `deno
 * bundle` strips the types and inlines the modules it imports (`api_client.ts`, `recrawl_line.ts`,
 * `render_line.ts`).
 * The bundle is committed, so a master (and a `deno compile` binary) serves it as is, with no
 * bundler at run time; its first line records a digest of this folder's `.ts` files, and
 * `master/dashboard_page_test.ts` fails while that digest is not the sources' own. Run `deno task
 * dashboard` after changing any of them.
 */

/** The bundle beside this module, the file the server reads. */
export const BUNDLE_URL: URL = new URL("./dashboard_app.js", import.meta.url);

const ENTRY = "dashboard_app.ts";
const DIGEST_LINE = /^\/\/ sources: sha-256 ([0-9a-f]{64})$/m;

/**
 * The SHA-256 of this folder's `.ts` files (their names and contents, in name order): what the
 * bundle was made from, as far as this check can tell.
 */
export async function sourceDigest(): Promise<string> {
  const dir = new URL(".", import.meta.url);
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.endsWith(".ts")) names.push(entry.name);
  }
  const parts: string[] = [];
  for (const name of names.sort()) {
    parts.push(name, await Deno.readTextFile(new URL(name, dir)));
  }
  const bytes = new TextEncoder().encode(JSON.stringify(parts));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The digest a bundle's header records, if it has one. */
export function recordedDigest(bundle: string): string | undefined {
  return bundle.match(DIGEST_LINE)?.[1];
}

/** Bundles `dashboard_app.ts` into `dashboard_app.js` with the running `deno`. */
export async function bundleDashboard(): Promise<void> {
  const dir = new URL(".", import.meta.url);
  const digest = await sourceDigest();
  const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "browser", ENTRY],
    // Relative to here, the file names esbuild writes in its comments are the same from any cwd.
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!success) {
    throw new Error(`deno bundle ${ENTRY} failed: ${new TextDecoder().decode(stderr)}`);
  }
  const header = [
    "// deno-fmt-ignore-file",
    "// deno-lint-ignore-file",
    `// Made from ${ENTRY} by \`deno task dashboard\` (bundle.ts): do not edit.`,
    `// sources: sha-256 ${digest}`,
  ].join("\n");
  await Deno.writeTextFile(BUNDLE_URL, `${header}\n${new TextDecoder().decode(stdout)}`);
}

if (import.meta.main) {
  await bundleDashboard();
}
