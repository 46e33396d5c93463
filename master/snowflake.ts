/**
 * @module
 * Snowflake ids for resources, laid out as the Go project's `bwmarrin/snowflake` does: 41 bits
 * of milliseconds since the Twitter epoch, 10 bits of node, 12 bits of sequence, as a decimal
 * string. The node comes from the master id, so ids given by different leaders never collide.
 */
import { parseMasterId } from "../proto/master_id.ts";

/** `bwmarrin/snowflake`'s default epoch (Nov 04 2010 01:42:54 UTC), in ms. */
export const SNOWFLAKE_EPOCH_MS = 1288834974657;

const NODE_BITS = 10n;
const STEP_BITS = 12n;
const MAX_NODE = (1 << Number(NODE_BITS)) - 1;
const MAX_STEP = (1 << Number(STEP_BITS)) - 1;

/** Options for {@linkcode Snowflake}. */
export interface SnowflakeOptions {
  /** Milliseconds since the Unix epoch. Default: `Date.now`. */
  clock?: () => number;
  /** The epoch ids count from. Default: {@linkcode SNOWFLAKE_EPOCH_MS}. */
  epochMs?: number;
}

/**
 * Generates increasing ids. Never blocks: when the clock steps back, or 4096 ids are taken in one
 * millisecond, it keeps counting from the last millisecond it used, so ids stay strictly
 * increasing (and unique) whatever the clock does.
 *
 * @example
 * ```ts
 * const ids = new Snowflake(1);
 * ids.next(); // "1609068436011356160"-like
 * ```
 */
export class Snowflake {
  readonly node: number;
  readonly #clock: () => number;
  readonly #epochMs: number;
  #lastMs = -Infinity;
  #step = 0;

  constructor(node: number, options: SnowflakeOptions = {}) {
    if (!Number.isInteger(node) || node < 0 || node > MAX_NODE) {
      throw new RangeError(`snowflake node must be a whole number in [0, ${MAX_NODE}]: ${node}`);
    }
    this.node = node;
    this.#clock = options.clock ?? Date.now;
    this.#epochMs = options.epochMs ?? SNOWFLAKE_EPOCH_MS;
  }

  /** The next id, as a decimal string (it needs 63 bits: more than a JS number holds exactly). */
  next(): string {
    let now = Math.floor(this.#clock());
    if (now <= this.#lastMs) {
      now = this.#lastMs;
      this.#step = (this.#step + 1) & MAX_STEP;
      // The sequence wrapped within one millisecond: borrow the next one rather than wait.
      if (this.#step === 0) now++;
    } else {
      this.#step = 0;
    }
    this.#lastMs = now;
    const elapsed = now - this.#epochMs;
    if (elapsed < 0) throw new RangeError(`clock is before the snowflake epoch: ${now}`);
    return ((BigInt(elapsed) << (NODE_BITS + STEP_BITS)) | (BigInt(this.node) << STEP_BITS) |
      BigInt(this.#step)).toString();
  }
}

/**
 * The snowflake node of a master: its numeric `--id` (mod 1024) when it has one, else a hash of
 * the whole master id, so masters started as `--id=1`, `--id=2`... get distinct nodes.
 */
export function snowflakeNodeFromMasterId(masterId: string): number {
  const id = parseMasterId(masterId)?.id;
  if (id !== undefined && /^\d+$/.test(id)) return Number(BigInt(id) % BigInt(MAX_NODE + 1));
  // FNV-1a: stable across runs and platforms, unlike anything seeded.
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(masterId)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % (MAX_NODE + 1);
}
