import assert from "node:assert/strict";
import { createWorkerApp } from "../worker/worker_app.ts";

const TOKEN = "tok-1234";

function app(options: { token?: string; openMetrics?: boolean } = {}) {
  return createWorkerApp({ workerId: "w-1", tasks: () => [], ready: () => true, ...options });
}

async function get(target: ReturnType<typeof app>, path: string, authorization?: string) {
  const response = await target.request(path, {
    headers: authorization ? { authorization } : {},
  });
  return { status: response.status, body: await response.json().catch(() => undefined) };
}

Deno.test("with a token, a request without it or with a wrong one is 401", async () => {
  const worker = app({ token: TOKEN });
  for (const header of [undefined, "Bearer wrong", `Basic ${TOKEN}`, `Bearer ${TOKEN}x`]) {
    const answer = await get(worker, "/tasks", header);
    assert.deepEqual(answer, { status: 401, body: { error: "missing or invalid bearer token" } });
  }
  assert.equal((await get(worker, "/metrics")).status, 401);
  assert.equal((await get(worker, "/no-such-route")).status, 401); // nothing leaks, not even 404
  const ok = await get(worker, "/tasks", `Bearer ${TOKEN}`);
  assert.deepEqual(ok, { status: 200, body: { worker: "w-1", tasks: [] } });
});

Deno.test("the probes are open; /metrics only when auth.metrics is open", async () => {
  const worker = app({ token: TOKEN });
  assert.equal((await get(worker, "/healthz")).status, 200);
  assert.equal((await get(worker, "/readyz")).status, 200);
  const open = app({ token: TOKEN, openMetrics: true });
  assert.equal((await open.request("/metrics")).status, 200);
  assert.equal((await get(open, "/tasks")).status, 401);
});

Deno.test("without a token every request is served", async () => {
  assert.equal((await get(app(), "/tasks")).status, 200);
  assert.equal((await get(app(), "/tasks", "Bearer anything")).status, 200);
});
