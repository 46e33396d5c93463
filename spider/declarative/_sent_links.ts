/**
 * @module
 * A parse worker's record of the links it has sent for a task run, so it can leave out links the
 * run has already queued. Same design as the engine's `VisitedSet` (64-bit hashes in an
 * open-addressing table, ~17 bytes a link), with two differences that matter on a worker's hot
 * path: a link on the page's own origin is hashed as `origin + path` without building that
 * string (most links on a page are ones already sent, and now cost no allocation), and the set
 * stops growing at `maxSize`, after which it only answers lookups, so its memory is bounded.
 */

/** Options for {@linkcode SentLinks}. */
export interface SentLinksOptions {
  /** Links remembered at most. Default 2^20 (a table of 16 MiB at most). */
  maxSize?: number;
}

const MAX_LOAD = 0.7;

/** The set of links sent for one task run. A collision (p ≈ n²/2⁶⁵) drops a new link. */
export class SentLinks {
  #table = new Uint32Array(1024 * 2);
  #mask = 1023;
  #size = 0;
  readonly #maxSize: number;
  /** Hash lanes after the last prefix, so a page's origin is hashed once per page. */
  #prefix = "";
  #prefixA = 0;
  #prefixB = 0;
  #hi = 0;
  #lo = 0;

  constructor(options: SentLinksOptions = {}) {
    this.#maxSize = options.maxSize ?? 1 << 20;
  }

  get size(): number {
    return this.#size;
  }

  /** True if `url` was not sent yet (and it is now recorded, while there is room). */
  add(url: string): boolean {
    this.#hashFrom(0x811c9dc5, 0x6a09e667, url);
    return this.#add();
  }

  /** {@linkcode add} for `prefix + rest`, without building it. */
  addJoined(prefix: string, rest: string): boolean {
    if (prefix !== this.#prefix) {
      this.#prefix = prefix;
      this.#hashFrom(0x811c9dc5, 0x6a09e667, prefix, false);
      this.#prefixA = this.#hi;
      this.#prefixB = this.#lo;
    }
    this.#hashFrom(this.#prefixA, this.#prefixB, rest);
    return this.#add();
  }

  #add(): boolean {
    const hi = this.#hi;
    const lo = this.#lo;
    const slot = this.#find(hi, lo);
    const table = this.#table;
    if (table[slot] !== 0 || table[slot + 1] !== 0) return false;
    if (this.#size >= this.#maxSize) return true;
    if (this.#size + 1 > (this.#mask + 1) * MAX_LOAD) {
      this.#grow();
      const free = this.#find(hi, lo);
      this.#table[free] = hi;
      this.#table[free + 1] = lo;
    } else {
      table[slot] = hi;
      table[slot + 1] = lo;
    }
    this.#size++;
    return true;
  }

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

  #grow(): void {
    const old = this.#table;
    this.#mask = this.#mask * 2 + 1;
    this.#table = new Uint32Array((this.#mask + 1) * 2);
    for (let slot = 0; slot < old.length; slot += 2) {
      if (old[slot] === 0 && old[slot + 1] === 0) continue;
      const free = this.#find(old[slot], old[slot + 1]);
      this.#table[free] = old[slot];
      this.#table[free + 1] = old[slot + 1];
    }
  }

  /**
   * Continues two 32-bit hash lanes (FNV-1a and a multiply–xorshift lane, as `VisitedSet`) over
   * `text`, into #hi/#lo: finished (murmur3's finaliser) unless `finish` is false, in which case
   * they hold the raw lanes to continue from.
   */
  #hashFrom(a: number, b: number, text: string, finish = true): void {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x5bd1e995);
      b ^= b >>> 15;
    }
    if (!finish) {
      this.#hi = a;
      this.#lo = b;
      return;
    }
    const hi = fmix32(a);
    let lo = fmix32(b ^ hi);
    if (hi === 0 && lo === 0) lo = 1; // [0, 0] means "empty"
    this.#hi = hi;
    this.#lo = lo;
  }
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
