import assert from "node:assert/strict";
import { VisitedSet } from "./visited_set.ts";

Deno.test("visited set reports a key as new only the first time", () => {
  const visited = new VisitedSet();
  assert.equal(visited.has("https://book.douban.com/"), false);
  assert.equal(visited.add("https://book.douban.com/"), true);
  assert.equal(visited.add("https://book.douban.com/"), false);
  assert.equal(visited.has("https://book.douban.com/"), true);
  assert.equal(visited.size, 1);
});

Deno.test("visited set tells apart keys that differ slightly", () => {
  const visited = new VisitedSet();
  const keys = [
    "",
    "a",
    "b",
    "ab",
    "ba",
    "https://book.douban.com/tag/小说",
    "https://book.douban.com/tag/小说?start=20",
    "POST https://book.douban.com/tag/小说",
    "\u0000",
    "\u0000\u0000",
  ];
  for (const key of keys) assert.equal(visited.add(key), true, JSON.stringify(key));
  for (const key of keys) assert.equal(visited.add(key), false, JSON.stringify(key));
  assert.equal(visited.size, keys.length);
});

Deno.test("visited set keeps every entry as it grows", () => {
  const visited = new VisitedSet({ initialCapacity: 8 });
  assert.equal(visited.capacity, 8);
  const keys = Array.from({ length: 5000 }, (_, i) => `https://example.com/page/${i}`);
  for (const key of keys) assert.equal(visited.add(key), true);
  assert.equal(visited.size, 5000);
  assert.equal(visited.capacity, 8192); // 5000 / 8192 ≈ 0.61, under the 0.7 load limit
  for (const key of keys) assert.equal(visited.has(key), true);
  for (const key of keys) assert.equal(visited.add(key), false);
  assert.equal(visited.has("https://example.com/page/5000"), false);
});

Deno.test("visited set holds a million URLs in under 32 bytes each", () => {
  const visited = new VisitedSet();
  const count = 1_000_000;
  const url = (i: number) => `https://book.douban.com/subject/${i}/?from=tag_all&start=${i % 977}`;
  const start = performance.now();
  let added = 0;
  for (let i = 0; i < count; i++) if (visited.add(url(i))) added++;
  const addMs = performance.now() - start;
  assert.equal(added, count, "every distinct URL is added exactly once");
  assert.equal(visited.size, count);
  let found = 0;
  for (let i = 0; i < count; i++) if (visited.has(url(i))) found++;
  assert.equal(found, count);
  let falsePositives = 0;
  for (let i = count; i < count + 200_000; i++) if (visited.has(url(i))) falsePositives++;
  assert.equal(falsePositives, 0);

  const perUrl = visited.bytesUsed / count;
  console.log(
    `visited set: ${count} URLs in ${visited.bytesUsed} bytes = ${perUrl.toFixed(2)} B/URL, ` +
      `${visited.capacity} slots, ${addMs.toFixed(0)} ms to add`,
  );
  assert.ok(perUrl < 32, `${perUrl} bytes per URL`);
});

Deno.test("visited set with maxSize stops growing and lets unknown keys through", () => {
  const visited = new VisitedSet({ maxSize: 100 });
  for (let i = 0; i < 100; i++) assert.equal(visited.add(`k${i}`), true);
  const bytes = visited.bytesUsed;
  for (let i = 100; i < 10_000; i++) assert.equal(visited.add(`k${i}`), true);
  assert.equal(visited.add("k5"), false, "keys it holds are still known");
  assert.equal(visited.add("k5000"), true, "a key it could not keep is not claimed seen");
  assert.equal(visited.size, 100);
  assert.equal(visited.bytesUsed, bytes);
});
