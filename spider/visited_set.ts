/**
 * @module
 * The set of request keys a task has already fetched, kept compact for crawls of millions of
 * URLs: it stores a 64-bit hash per key instead of the key itself.
 */
import { hash64Into } from "../frontier/key_hash.ts";

/** Growth threshold: at most this fraction of the slots is used before the table doubles. */
const MAX_LOAD = 0.7;

/** Options for {@linkcode VisitedSet}. */
export interface VisitedSetOptions {
  /** Slots to start with, rounded up to a power of two. Default 1024. */
  initialCapacity?: number;
  /**
   * Keys remembered at most: past it the set stops growing and `add` answers true for keys it
   * has not got, so memory stays bounded. Use it where the set is a cache in front of a store
   * that has every key (the frontier). Default: unbounded.
   */
  maxSize?: number;
}

/**
 * A set of visited request keys (the Go project kept md5(URL + method) strings in a map).
 *
 * Each key is reduced to a 64-bit hash, two 32-bit halves stored side by side in one
 * `Uint32Array` used as an open-addressing table with linear probing. A slot is 8 bytes and the
 * table doubles at 70 % load, so it costs 11.4–22.9 bytes per key whatever the URL length
 * (about 16.8 at one million keys). Two distinct keys are mistaken for one another with
 * probability about n²/2⁶⁵ (under 10⁻⁷ at a million keys): a page skipped, never a crash.
 *
 * @example
 * ```ts
 * const visited = new VisitedSet();
 * if (visited.add(urlKey(req.url, req.method))) send(req); // false: seen before
 * ```
 */
export class VisitedSet {
  /** [hi, lo] per slot; [0, 0] marks an empty slot. */
  #table: Uint32Array;
  #mask: number;
  #size = 0;
  #growAt: number;
  readonly #maxSize: number;
  /** The last key's hash halves, kept in fields so hashing allocates nothing. */
  #hi = 0;
  #lo = 0;
  readonly #lanes = new Uint32Array(2);

  constructor(options: VisitedSetOptions = {}) {
    const capacity = 2 ** Math.ceil(Math.log2(Math.max(8, options.initialCapacity ?? 1024)));
    this.#table = new Uint32Array(capacity * 2);
    this.#mask = capacity - 1;
    this.#growAt = Math.floor(capacity * MAX_LOAD);
    this.#maxSize = options.maxSize ?? Infinity;
  }

  /** Number of distinct keys added. */
  get size(): number {
    return this.#size;
  }

  /** Number of slots in the table (a power of two). */
  get capacity(): number {
    return this.#mask + 1;
  }

  /** Bytes held by the table. */
  get bytesUsed(): number {
    return this.#table.byteLength;
  }

  /** Adds a key; returns true if it was not in the set yet. */
  add(key: string): boolean {
    this.#hash(key);
    const slot = this.#find(this.#hi, this.#lo);
    const table = this.#table;
    if (table[slot] !== 0 || table[slot + 1] !== 0) return false;
    if (this.#size >= this.#maxSize) return true;
    if (this.#size + 1 > this.#growAt) {
      this.#grow();
      this.#insert(this.#hi, this.#lo);
    } else {
      table[slot] = this.#hi;
      table[slot + 1] = this.#lo;
    }
    this.#size++;
    return true;
  }

  /** True if the key was added before. */
  has(key: string): boolean {
    this.#hash(key);
    const slot = this.#find(this.#hi, this.#lo);
    return this.#table[slot] !== 0 || this.#table[slot + 1] !== 0;
  }

  /** Index (into #table) of the slot holding [hi, lo], or of the empty slot where it belongs. */
  #find(hi: number, lo: number): number {
    const table = this.#table;
    const mask = this.#mask;
    for (let i = hi & mask;; i = (i + 1) & mask) {
      const slot = i * 2;
      const h = table[slot];
      const l = table[slot + 1];
      if ((h === hi && l === lo) || (h === 0 && l === 0)) return slot;
    }
  }

  #insert(hi: number, lo: number): void {
    const slot = this.#find(hi, lo);
    this.#table[slot] = hi;
    this.#table[slot + 1] = lo;
  }

  /** Doubles the table. Entries move by their stored hash; keys are not needed again. */
  #grow(): void {
    const old = this.#table;
    const capacity = (this.#mask + 1) * 2;
    this.#table = new Uint32Array(capacity * 2);
    this.#mask = capacity - 1;
    this.#growAt = Math.floor(capacity * MAX_LOAD);
    for (let slot = 0; slot < old.length; slot += 2) {
      const hi = old[slot];
      const lo = old[slot + 1];
      if (hi !== 0 || lo !== 0) this.#insert(hi, lo);
    }
  }

  /** The key's 64-bit hash (`hash64Into`) into #hi and #lo; [0, 0] is kept for "empty". */
  #hash(key: string): void {
    hash64Into(key, this.#lanes);
    this.#hi = this.#lanes[0];
    this.#lo = this.#lanes[0] === 0 && this.#lanes[1] === 0 ? 1 : this.#lanes[1];
  }
}
