/**
 * @module
 * An etcd lease kept alive over a keep-alive stream that reconnects by itself, and declared lost
 * (its signal aborts) as soon as etcd says it is gone or no keep-alive succeeded within its TTL.
 * A late keep-alive never revokes the lease on the server: etcd may still hold it (it renews
 * every lease when it restarts), and revoking would delete its keys (a worker's registration,
 * its claims) for nothing. A holder that abandons a lease revokes it itself.
 */

import { backoffDelay } from "./_backoff.ts";
import { delay } from "../async/delay.ts";
import { callEtcd, type EtcdContext } from "./_etcd_context.ts";
import { isConnectionError } from "./_etcd_kv.ts";
import { type Lease, LeaseLostError, type LeaseOptions } from "./store.ts";

/** A lease of an `EtcdStore`. */
export class EtcdLease implements Lease {
  readonly signal: AbortSignal;
  readonly #controller = new AbortController();
  readonly #context: EtcdContext;
  readonly #onEnd: (lease: EtcdLease) => void;
  #watchdog: ReturnType<typeof setTimeout> | undefined;
  #aliveUntil = 0;
  readonly #renewListeners = new Set<() => void>();
  #keepAlive: Promise<void> | undefined;
  #revoked: Promise<void> | undefined;

  private constructor(
    context: EtcdContext,
    readonly id: string,
    readonly ttlSeconds: number,
    grantSentAt: number,
    keepAlive: boolean,
    onEnd: (lease: EtcdLease) => void,
  ) {
    this.#context = context;
    this.#onEnd = onEnd;
    this.signal = this.#controller.signal;
    // Until a keep-alive says otherwise, the lease is only known to live TTL seconds from the
    // moment the grant was sent (the server started counting later, so this errs early).
    this.#extendUntil(grantSentAt + ttlSeconds * 1000);
    if (keepAlive) {
      this.#keepAlive = this.#keepAliveLoop();
      context.track(this.#keepAlive);
    }
  }

  /**
   * Grants a lease and starts keeping it alive. `onEnd` is called once when the lease ends
   * (lost or revoked) so the store can forget it.
   */
  static async grant(
    context: EtcdContext,
    ttlSeconds: number,
    options: LeaseOptions & { onEnd: (lease: EtcdLease) => void },
  ): Promise<EtcdLease> {
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) {
      throw new RangeError(`lease TTL must be a whole number of seconds >= 1: ${ttlSeconds}`);
    }
    const sentAt = Date.now();
    const granted = await callEtcd(
      context,
      "lease grant",
      ({ deadline }) => context.client.leaseClient.leaseGrant({ TTL: ttlSeconds }, { deadline }),
    );
    return new EtcdLease(
      context,
      String(granted.ID),
      Number(granted.TTL),
      sentAt,
      options.keepAlive ?? true,
      options.onEnd,
    );
  }

  get aliveUntil(): number {
    return this.#aliveUntil;
  }

  onRenewed(listener: () => void): () => void {
    this.#renewListeners.add(listener);
    return () => this.#renewListeners.delete(listener);
  }

  async put(key: string, value: string): Promise<number> {
    if (this.signal.aborted) throw this.signal.reason;
    try {
      const response = await callEtcd(
        this.#context,
        "put",
        ({ deadline }) =>
          this.#context.client.kv.put(
            { key: Buffer.from(key), value: Buffer.from(value), lease: this.id },
            { deadline },
          ),
      );
      return Number(response.header.revision);
    } catch (error) {
      if (error instanceof LeaseLostError) this.#lose(error);
      throw error;
    }
  }

  revoke(): Promise<void> {
    this.#revoked ??= this.#revoke();
    return this.#revoked;
  }

  async #revoke(): Promise<void> {
    this.#end(new LeaseLostError(`lease ${this.id} revoked`));
    await this.#keepAlive;
    await this.#revokeOnServer();
  }

  async #revokeOnServer(): Promise<void> {
    try {
      await callEtcd(
        this.#context,
        "lease revoke",
        ({ deadline }) =>
          this.#context.client.leaseClient.leaseRevoke({ ID: this.id }, { deadline }),
      );
    } catch (error) {
      // Already expired or revoked by someone else: the goal is reached.
      if (error instanceof LeaseLostError) return;
      throw error;
    }
  }

  /** The lease ended without `revoke()`: etcd said so, or no keep-alive got through in time. */
  #lose(reason: LeaseLostError): void {
    if (this.signal.aborted) return;
    this.#end(reason);
  }

  #end(reason: LeaseLostError): void {
    if (this.#watchdog !== undefined) clearTimeout(this.#watchdog);
    this.#watchdog = undefined;
    if (this.signal.aborted) return;
    this.#controller.abort(reason);
    this.#onEnd(this);
  }

  #extendUntil(expiresAt: number): void {
    if (this.signal.aborted || expiresAt <= this.#aliveUntil) return;
    this.#aliveUntil = expiresAt;
    if (this.#watchdog !== undefined) clearTimeout(this.#watchdog);
    this.#watchdog = setTimeout(() => {
      this.#watchdog = undefined;
      // No revoke here: the keep-alive was late, which does not mean etcd dropped the lease.
      this.#lose(
        new LeaseLostError(`lease ${this.id} not kept alive within its TTL (${this.ttlSeconds} s)`),
      );
    }, Math.max(0, expiresAt - Date.now()));
    for (const listener of this.#renewListeners) listener();
  }

  async #keepAliveLoop(): Promise<void> {
    const { client, logger } = this.#context;
    const intervalMs = Math.max(100, (this.ttlSeconds * 1000) / 3); // as etcd's Go client does
    for (let attempt = 0; !this.signal.aborted; attempt++) {
      let failure: unknown;
      try {
        const stream = await client.leaseClient.leaseKeepAlive();
        failure = await new Promise<unknown>((resolve) => {
          const sentAt: number[] = [];
          const send = () => {
            sentAt.push(Date.now());
            stream.write({ ID: this.id });
          };
          let finished = false;
          const finish = (error?: unknown) => {
            if (finished) return;
            finished = true;
            clearInterval(timer);
            this.signal.removeEventListener("abort", onAbort);
            stream.cancel();
            resolve(error);
          };
          const onAbort = () => finish();
          stream.on("data", (response) => {
            if (finished) return;
            // etcd answers TTL 0 (or less) for a lease it no longer has: expired or revoked.
            if (Number(response.TTL) <= 0) {
              this.#lose(new LeaseLostError(`lease ${this.id} expired or was revoked`));
              return;
            }
            attempt = 0;
            this.#extendUntil((sentAt.shift() ?? Date.now()) + Number(response.TTL) * 1000);
          });
          stream.on("error", (error) => finish(error));
          stream.on("end", () => finish(new Error("keep-alive stream ended")));
          this.signal.addEventListener("abort", onAbort, { once: true });
          const timer = setInterval(send, intervalMs);
          if (this.signal.aborted) return finish(); // ended while the stream was opening
          send();
        });
      } catch (error) {
        failure = error;
      }
      if (this.signal.aborted) return;
      const message = `lease ${this.id}: keep-alive stream failed, reconnecting`;
      // A connection failure is expected while etcd restarts; anything else is a real problem.
      if (isConnectionError(failure)) (logger.info ?? logger.warn)(message, { error: failure });
      else logger.error(message, { error: failure });
      await delay(backoffDelay(this.#context.backoff, attempt), { signal: this.signal }).catch(() =>
        undefined
      );
    }
  }
}
