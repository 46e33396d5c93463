/**
 * @module
 * A request key reduced to 64 bits for the durable frontiers' unique index: a URL costs 8 bytes
 * there whatever its length. Two keys of one crawl collide with probability about n²/2⁶⁵
 * (under 10⁻⁵ at 10 million URLs): a page taken for one already queued, never a crash.
 */

/**
 * The key's 64-bit hash as a signed integer (what SQLite's INTEGER and Postgres' bigint hold):
 * two differently built 32-bit lanes over the UTF-16 code units, each finished by murmur3's
 * mixer.
 */
export function keyHash(key: string): bigint {
  let a = 0x811c9dc5;
  let b = 0x6a09e667;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  const hi = fmix32(a);
  const lo = fmix32(b ^ hi);
  return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo));
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
