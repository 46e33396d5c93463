import assert from "node:assert/strict";
import { LeaseFence } from "./lease_fence.ts";
import type { Lease } from "../store/store.ts";
import { holdsFor } from "../tests/kit/wait.ts";

/** A lease whose known end the test sets, as keep-alive answers would. */
class TestLease implements Lease {
  readonly id = "1";
  readonly controller = new AbortController();
  readonly signal = this.controller.signal;
  readonly #listeners = new Set<() => void>();
  constructor(readonly ttlSeconds: number, public aliveUntil: number) {}
  renewUntil(aliveUntil: number): void {
    this.aliveUntil = aliveUntil;
    for (const listener of this.#listeners) listener();
  }
  onRenewed(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  put(): Promise<number> {
    return Promise.resolve(1);
  }
  revoke(): Promise<void> {
    return Promise.resolve();
  }
}

Deno.test("a lease fence stops acting a margin before the lease's known end", () => {
  const lease = new TestLease(2, 10_000);
  const fence = new LeaseFence(lease, { marginMs: 400 });
  assert.equal(fence.mayAct(9_599), true);
  assert.equal(fence.mayAct(9_600), false);
});

Deno.test("a lease fence fires when the known end comes near, and a renewal puts it off", async () => {
  const lease = new TestLease(1, Date.now() + 300);
  const fence = new LeaseFence(lease, { marginMs: 200 });
  let firedAt = 0;
  const armedAt = Date.now();
  const fired = new Promise<void>((resolve) => {
    fence.arm(() => {
      firedAt = Date.now();
      resolve();
    });
  });
  // Renewed before the first check: the fence must move with it.
  setTimeout(() => lease.renewUntil(Date.now() + 400), 50);
  await fired;
  assert.ok(firedAt - armedAt >= 240, `fired ${firedAt - armedAt} ms after arming`);
  assert.equal(fence.mayAct(), false);
});

Deno.test("a lease fence resumes only on a keep-alive sent after the fence", async () => {
  const lease = new TestLease(2, Date.now() - 1);
  const fence = new LeaseFence(lease, { marginMs: 400 });
  const fencedAt = Date.now() - 100;
  let resumed = false;
  const waiting = fence.resumable(fencedAt, new AbortController().signal).then(() =>
    resumed = true
  );
  // A late answer to a keep-alive sent before the fence: the lease lives on, but not for long.
  lease.renewUntil(fencedAt - 50 + 2000);
  await holdsFor(() => !resumed, { what: "not resumed by the late answer", forMs: 10 });
  assert.equal(fence.mayAct(), true);
  lease.renewUntil(Date.now() + 2000); // a keep-alive sent just now
  await waiting;
  assert.equal(resumed, true);
});

Deno.test("waiting to resume ends when the lease is lost", async () => {
  const lease = new TestLease(2, Date.now() - 1);
  const fence = new LeaseFence(lease, { marginMs: 400 });
  const waiting = fence.resumable(Date.now(), new AbortController().signal);
  lease.controller.abort(new Error("lost"));
  await waiting;
  assert.equal(fence.mayResume(Date.now()), false);
});
