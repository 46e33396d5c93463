import assert from "node:assert/strict";
import { RequestQueue } from "./request_queue.ts";
import { toRequest } from "./request.ts";

const req = (url: string, priority = 0) => toRequest({ url, ruleName: "r", priority });

Deno.test("request queue hands out priority requests first, each class in FIFO order", async () => {
  const queue = new RequestQueue();
  queue.push(req("a"));
  queue.push(req("p1", 1));
  queue.push(req("b"));
  queue.push(req("p2", 100));
  const order = [];
  for (let i = 0; i < 4; i++) order.push((await queue.pull())!.url);
  assert.deepEqual(order, ["p1", "p2", "a", "b"]);
});

Deno.test("request queue wakes a waiting pull when a request arrives", async () => {
  const queue = new RequestQueue();
  const pulled = queue.pull();
  queue.push(req("late"));
  assert.equal((await pulled)?.url, "late");
});

Deno.test("request queue close releases waiting pulls and drops what is queued", async () => {
  const queue = new RequestQueue();
  const waiting = queue.pull();
  queue.close();
  assert.equal(await waiting, undefined);
  queue.push(req("after"));
  assert.equal(queue.size, 0);
  assert.equal(await queue.pull(), undefined);
});

Deno.test("request queue pull returns undefined when its signal aborts", async () => {
  const queue = new RequestQueue();
  const controller = new AbortController();
  const waiting = queue.pull(controller.signal);
  controller.abort();
  assert.equal(await waiting, undefined);
  queue.push(req("x"));
  assert.equal((await queue.pull())?.url, "x", "the aborted waiter must not swallow a request");
});

Deno.test("request queue keeps FIFO order across many pushes", async () => {
  const queue = new RequestQueue();
  for (let i = 0; i < 5000; i++) queue.push(req(String(i)));
  for (let i = 0; i < 5000; i++) assert.equal((await queue.pull())?.url, String(i));
});
