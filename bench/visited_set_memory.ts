/**
 * @module
 * The second figure of `deno task bench`: what the engine's visited set costs per URL once it
 * holds 1,000,000 distinct URLs (its table's bytes, and the JS heap it actually grew by).
 */
import { VisitedSet } from "../spider/visited_set.ts";

/** Bytes per URL of a `VisitedSet` holding `urls` distinct URLs. */
export interface VisitedSetFigures {
  urls: number;
  tableBytes: number;
  bytesPerUrl: number;
  milliseconds: number;
}

/** Adds `urls` distinct, realistic URLs to a fresh visited set. */
export function benchVisitedSet(urls = 1_000_000): VisitedSetFigures {
  const visited = new VisitedSet();
  const started = performance.now();
  for (let i = 0; i < urls; i++) {
    visited.add(`https://book.example.com/subject/${i}/reviews?sort=time&start=${i % 97}`);
  }
  const milliseconds = performance.now() - started;
  if (visited.size !== urls) throw new Error(`expected ${urls} URLs, the set has ${visited.size}`);
  return {
    urls,
    tableBytes: visited.bytesUsed,
    bytesPerUrl: visited.bytesUsed / visited.size,
    milliseconds,
  };
}
