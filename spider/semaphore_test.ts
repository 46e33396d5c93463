import assert from "node:assert/strict";
import { Semaphore } from "./semaphore.ts";

Deno.test("semaphore hands out at most its size and wakes waiters in order", async () => {
  const sem = new Semaphore(2);
  const r1 = await sem.acquire();
  await sem.acquire();
  assert.equal(sem.inUse, 2);
  const order: number[] = [];
  const w1 = sem.acquire().then((release) => (order.push(1), release));
  const w2 = sem.acquire().then((release) => (order.push(2), release));
  r1();
  r1(); // a second release of the same slot is ignored
  (await w1)();
  (await w2)();
  assert.deepEqual(order, [1, 2]);
  assert.equal(sem.inUse, 1);
});

Deno.test("semaphore acquire rejects with the signal's reason and frees its place", async () => {
  const sem = new Semaphore(1);
  const release = await sem.acquire();
  const controller = new AbortController();
  const waiting = sem.acquire(controller.signal);
  controller.abort(new Error("stop"));
  await assert.rejects(waiting, /stop/);
  release();
  assert.equal(sem.inUse, 0);
});
