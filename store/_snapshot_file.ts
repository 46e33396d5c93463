/**
 * @module
 * The embedded store's file: a JSON snapshot of its durable keys, validated on read, written
 * atomically (temporary file, fsync, rename) and debounced.
 */

import { dirname } from "node:path";
import { z } from "zod";
import type { Clock } from "../async/clock.ts";
import type { StoreLogger } from "./store.ts";

const SnapshotSchema = z.object({
  version: z.literal(1),
  revision: z.number().int().nonnegative(),
  kvs: z.array(z.object({
    key: z.string(),
    value: z.string(),
    createRevision: z.number().int().positive(),
    modRevision: z.number().int().positive(),
  })),
});

/** What the file holds: the store revision and its keys that have no lease. */
export type Snapshot = z.infer<typeof SnapshotSchema>;

/** Options for {@linkcode SnapshotFile}. */
export interface SnapshotFileOptions {
  /** How long after a change the snapshot is written (changes meanwhile share the write). */
  delayMs: number;
  clock: Pick<Clock, "setTimer">;
  logger: StoreLogger;
  /** Takes the snapshot to write; called when the write happens, so it is the latest state. */
  snapshot: () => Snapshot;
}

/** Reads the snapshot at `path`; undefined when there is no file yet. Throws on a corrupt file. */
export async function loadSnapshot(path: string): Promise<Snapshot | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`embedded store file ${path} is not valid JSON`, { cause: error });
  }
  const parsed = SnapshotSchema.safeParse(json);
  if (!parsed.success) {
    throw new Error(
      `embedded store file ${path} is not a store snapshot: ${parsed.error.message}`,
      {
        cause: parsed.error,
      },
    );
  }
  for (const kv of parsed.data.kvs) {
    if (kv.createRevision > kv.modRevision || kv.modRevision > parsed.data.revision) {
      throw new Error(`embedded store file ${path} has inconsistent revisions for ${kv.key}`);
    }
  }
  return parsed.data;
}

/** Writes snapshots to `path`: `schedule()` after each change, `close()` to flush the last one. */
export class SnapshotFile {
  #dirty = false;
  #cancelTimer: (() => void) | undefined;
  #writing: Promise<void> = Promise.resolve();

  constructor(readonly path: string, readonly options: SnapshotFileOptions) {}

  /** Notes a change: a write follows within `delayMs` (one write for a burst of changes). */
  schedule(): void {
    this.#dirty = true;
    if (this.#cancelTimer) return;
    this.#cancelTimer = this.options.clock.setTimer(() => {
      this.#cancelTimer = undefined;
      this.flush().catch((error) => {
        // The change stays marked dirty, so the next change or close() writes it again.
        this.options.logger.error(`embedded store: writing ${this.path} failed`, { error });
      });
    }, this.options.delayMs);
  }

  /** Writes the current state now if anything changed since the last write. */
  flush(): Promise<void> {
    this.#writing = this.#writing.catch(() => undefined).then(async () => {
      if (!this.#dirty) return;
      this.#dirty = false;
      try {
        await writeAtomically(this.path, JSON.stringify(this.options.snapshot()));
      } catch (error) {
        this.#dirty = true;
        throw error;
      }
    });
    return this.#writing;
  }

  /** Cancels the pending timer and writes what is left; rejects if that write fails. */
  async close(): Promise<void> {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    await this.flush();
  }
}

/** Replaces `path` with `text` so a crash leaves either the old or the new file, never half. */
async function writeAtomically(path: string, text: string): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${crypto.randomUUID()}.tmp`;
  try {
    using file = await Deno.open(temporary, { write: true, createNew: true });
    const bytes = new TextEncoder().encode(text);
    for (let written = 0; written < bytes.length;) {
      written += await file.write(bytes.subarray(written));
    }
    await file.sync();
  } catch (error) {
    await Deno.remove(temporary).catch(() => undefined);
    throw error;
  }
  try {
    await Deno.rename(temporary, path);
  } catch (error) {
    await Deno.remove(temporary).catch(() => undefined);
    throw error;
  }
}
