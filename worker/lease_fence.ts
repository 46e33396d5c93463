/**
 * @module
 * When a worker may act on its registration lease, by its own clock: until a margin before the
 * lease's known end (`Lease.aliveUntil`: the last acknowledged keep-alive's send time plus the
 * TTL). etcd cannot expire the lease, and so no master can move the worker's tasks, before
 * that end; stopping a margin earlier leaves time to stop.
 */
import type { Lease } from "../store/store.ts";

/** Options for {@linkcode LeaseFence}. */
export interface LeaseFenceOptions {
  /** How long before the lease's known end acting stops, ms. */
  marginMs: number;
}

/** The fencing rule for one lease. */
export class LeaseFence {
  readonly #lease: Lease;
  readonly #marginMs: number;

  constructor(lease: Lease, options: LeaseFenceOptions) {
    this.#lease = lease;
    this.#marginMs = options.marginMs;
  }

  /** True while the lease is known alive with the margin to spare. */
  mayAct(now: number = Date.now()): boolean {
    return now < this.#lease.aliveUntil - this.#marginMs;
  }

  /**
   * True when acting may start again after a fence at `fencedAt`: a keep-alive sent since then
   * was acknowledged (its send time is the known end minus the TTL) and the margin holds. An
   * answer to a keep-alive sent before the fence, arriving late, does not count: it renews the
   * lease only briefly, and resuming on it would fence again a moment later.
   */
  mayResume(fencedAt: number, now: number = Date.now()): boolean {
    const sentAt = this.#lease.aliveUntil - this.#lease.ttlSeconds * 1000;
    return sentAt >= fencedAt && this.mayAct(now);
  }

  /** Calls `onFence` once, when acting must stop; returns a function that cancels it. */
  arm(onFence: () => void): () => void {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const check = () => {
      timer = undefined;
      const wait = this.#lease.aliveUntil - this.#marginMs - Date.now();
      if (wait <= 0) return onFence();
      // A renewal moves the end on: the timer then just checks again.
      if (Number.isFinite(wait)) timer = setTimeout(check, Math.min(wait, 2 ** 31 - 1));
    };
    check();
    return () => {
      if (timer !== undefined) clearTimeout(timer);
    };
  }

  /** Resolves once `mayResume(fencedAt)`, or when the lease is lost or `signal` aborts. */
  resumable(fencedAt: number, signal: AbortSignal): Promise<void> {
    const lease = this.#lease;
    return new Promise((resolve) => {
      const done = () => {
        unsubscribe();
        lease.signal.removeEventListener("abort", done);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const unsubscribe = lease.onRenewed(() => {
        if (this.mayResume(fencedAt)) done();
      });
      lease.signal.addEventListener("abort", done, { once: true });
      signal.addEventListener("abort", done, { once: true });
      if (lease.signal.aborted || signal.aborted || this.mayResume(fencedAt)) done();
    });
  }
}
