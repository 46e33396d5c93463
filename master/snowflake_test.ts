import assert from "node:assert/strict";
import { Snowflake, SNOWFLAKE_EPOCH_MS, snowflakeNodeFromMasterId } from "./snowflake.ts";

function decode(id: string) {
  const value = BigInt(id);
  return {
    ms: Number(value >> 22n) + SNOWFLAKE_EPOCH_MS,
    node: Number((value >> 12n) & 1023n),
    step: Number(value & 4095n),
  };
}

Deno.test("snowflake ids carry the time, the node and a sequence like bwmarrin/snowflake", () => {
  const ids = new Snowflake(7, { clock: () => 1_700_000_000_000 });
  assert.deepEqual(decode(ids.next()), { ms: 1_700_000_000_000, node: 7, step: 0 });
  assert.deepEqual(decode(ids.next()), { ms: 1_700_000_000_000, node: 7, step: 1 });
});

Deno.test("snowflake ids keep increasing when the clock stands still or steps back", () => {
  let now = 1_700_000_000_000;
  const ids = new Snowflake(1, { clock: () => now });
  const seen: bigint[] = [];
  for (let i = 0; i < 10_000; i++) {
    if (i === 5000) now -= 60_000; // an NTP step backwards
    seen.push(BigInt(ids.next()));
  }
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i] > seen[i - 1], `id ${i} not increasing`);
  assert.equal(new Set(seen).size, seen.length);
});

Deno.test("snowflake borrows the next millisecond when 4096 ids are taken in one", () => {
  const ids = new Snowflake(0, { clock: () => 1_700_000_000_000 });
  for (let i = 0; i < 4096; i++) ids.next();
  assert.deepEqual(decode(ids.next()), { ms: 1_700_000_000_001, node: 0, step: 0 });
});

Deno.test("snowflake node comes from the master id", () => {
  assert.equal(snowflakeNodeFromMasterId("master1-127.0.0.1:9091"), 1);
  assert.equal(snowflakeNodeFromMasterId("master1025-127.0.0.1:9091"), 1);
  const hashed = snowflakeNodeFromMasterId("mastera-127.0.0.1:9091");
  assert.ok(hashed >= 0 && hashed < 1024);
  assert.equal(snowflakeNodeFromMasterId("mastera-127.0.0.1:9091"), hashed);
  assert.throws(() => new Snowflake(1024), RangeError);
});
