/**
 * @module
 * A request key reduced to 64 bits: the durable frontiers' unique index stores it (8 bytes a URL
 * whatever its length) and the engine's `VisitedSet` keeps it. Two keys of one crawl collide with
 * probability about n²/2⁶⁵ (under 10⁻⁵ at 10 million URLs): a page taken for one already queued,
 * never a crash.
 */

/**
 * Hashes `key` into `out[0]` (high half) and `out[1]` (low half): two differently built 32-bit
 * lanes over the UTF-16 code units (FNV-1a, and a multiply–xorshift lane), each finished by
 * murmur3's mixer, so two keys collide only if both lanes do. Writes into `out` so that a hot
 * caller allocates nothing.
 */
export function hash64Into(key: string, out: Uint32Array): void {
  let a = 0x811c9dc5;
  let b = 0x6a09e667;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  const hi = fmix32(a);
  out[0] = hi;
  out[1] = fmix32(b ^ hi);
}

const lanes = new Uint32Array(2);

/** The key's 64-bit hash as a signed integer (what SQLite's INTEGER and Postgres' bigint hold). */
export function keyHash(key: string): bigint {
  hash64Into(key, lanes);
  return BigInt.asIntN(64, (BigInt(lanes[0]) << 32n) | BigInt(lanes[1]));
}

/** murmur3's 32-bit finaliser: a bijection that spreads every input bit over the output. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
