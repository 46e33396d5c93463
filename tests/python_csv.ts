/**
 * @module
 * Reads CSV with Python's standard `csv` module (`python3` on the PATH), as another program
 * reading an export would: tests check the export against a reader that is not ours.
 */
import assert from "node:assert/strict";

/** The records of `csv` (UTF-8) as Python's `csv.reader(strict=True)` parses them. */
export async function parseCsvWithPython(csv: string | Uint8Array): Promise<string[][]> {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/export.csv`;
    if (typeof csv === "string") await Deno.writeTextFile(path, csv);
    else await Deno.writeFile(path, csv);
    return await parseCsvFileWithPython(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The records of the CSV file at `path`, as Python's `csv` module parses them. */
export async function parseCsvFileWithPython(path: string): Promise<string[][]> {
  const output = await new Deno.Command("python3", {
    args: [
      "-c",
      "import csv, json, sys\n" +
      "with open(sys.argv[1], newline='', encoding='utf-8') as f:\n" +
      "    json.dump(list(csv.reader(f, strict=True)), sys.stdout)",
      path,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(output.success, `python3's csv failed: ${new TextDecoder().decode(output.stderr)}`);
  return JSON.parse(new TextDecoder().decode(output.stdout));
}
