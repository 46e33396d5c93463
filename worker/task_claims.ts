/**
 * @module
 * Per-task claims: before a worker runs a task it puts `/crawler/claims/<task>/<workerId>` on
 * its registration lease and waits until no other worker that is not one of the task's
 * placements still holds a claim on it. So a task moved from A to B starts on B only once A has
 * stopped it (A deletes its claim) or A's lease ran out, while the workers a task is placed on
 * together (`workers: N`) run it side by side.
 */
import { delay } from "../async/delay.ts";
import type { Logger } from "../log/logger.ts";
import { claimFromKey, claimKey, CLAIMS_PREFIX, taskClaimsPrefix } from "../proto/keys.ts";
import { encodeTaskClaim } from "../proto/task_claim.ts";
import type { Lease, Store } from "../store/store.ts";
import { StoreUnavailableError } from "../errors/mod.ts";

/** Options for {@linkcode TaskClaims}. */
export interface TaskClaimsOptions {
  store: Store;
  workerId: string;
  logger: Logger;
  /**
   * Longest wait for other workers' claims to go, ms: a claim lives at most its lease's TTL once
   * its worker stops keeping it alive. Past it the task starts anyway, with a warning.
   */
  maxWaitMs: number;
  /** Wait between attempts while the store is unreachable, ms. Default 200. */
  retryDelayMs?: number;
}

/** How a claim was acquired. */
export interface ClaimResult {
  /** How long other workers' claims held the task back, ms. */
  waitedMs: number;
  /** Workers whose claims were still there when `maxWaitMs` ran out. */
  overridden: string[];
}

/** This worker's claims. Operations on one task run one after another, in call order. */
export class TaskClaims {
  readonly #options: TaskClaimsOptions;
  readonly #chains = new Map<string, Promise<unknown>>();

  constructor(options: TaskClaimsOptions) {
    this.#options = options;
  }

  /**
   * Claims task `name` (for resource `resourceId`) on `lease`, then waits until every other
   * worker's claim on it is gone, except those of the workers `placements()` names at that
   * moment. Rejects with `signal.reason` when `signal` aborts (the task was stopped or moved, or
   * the lease may have expired), and with `LeaseLostError` when the lease is gone.
   */
  acquire(
    lease: Lease,
    task: { name: string; resourceId: string; placements: () => readonly string[] },
    signal: AbortSignal,
  ): Promise<ClaimResult> {
    return this.#serial(task.name, async () => {
      const value = encodeTaskClaim({
        worker: this.#options.workerId,
        resource: task.resourceId,
        since: new Date().toISOString(),
      });
      await this.#retrying(
        signal,
        () => lease.put(claimKey(task.name, this.#options.workerId), value),
      );
      return await this.#waitForOthers(task.name, task.placements, signal);
    });
  }

  /** Deletes this worker's claim on `name`, so a worker it moved to may start it. */
  release(name: string): Promise<void> {
    return this.#serial(name, async () => {
      await this.#options.store.delete(claimKey(name, this.#options.workerId));
    });
  }

  /**
   * Deletes this worker's claims on every task `keep` says no to: claims left by a run that was
   * fenced off, or by this worker's previous life under the same id. `keep` is asked again just
   * before each delete, in turn with the task's other claim operations, so a task that became
   * ours meanwhile keeps its claim.
   */
  async releaseAllBut(keep: (name: string) => boolean): Promise<string[]> {
    const { kvs } = await this.#options.store.getPrefix(CLAIMS_PREFIX);
    const stale = kvs
      .map((kv) => claimFromKey(kv.key))
      .filter((claim) => claim?.workerId === this.#options.workerId && !keep(claim.task))
      .map((claim) => claim!.task);
    const released = await Promise.all(stale.map((name) =>
      this.#serial(name, async () => {
        if (keep(name)) return undefined;
        await this.#options.store.delete(claimKey(name, this.#options.workerId));
        return name;
      })
    ));
    return released.filter((name): name is string => name !== undefined);
  }

  async #waitForOthers(
    name: string,
    placements: () => readonly string[],
    signal: AbortSignal,
  ): Promise<ClaimResult> {
    const { store, workerId, maxWaitMs } = this.#options;
    const started = Date.now();
    const prefix = taskClaimsPrefix(name);
    const blocking = (holders: Iterable<string>) => {
      const allowed = new Set(placements());
      return [...holders].filter((id) => id !== workerId && !allowed.has(id));
    };
    while (true) {
      const { kvs, revision } = await this.#retrying(signal, () => store.getPrefix(prefix));
      const holders = new Set(
        kvs.map((kv) => claimFromKey(kv.key)).filter((c) => c?.task === name).map((c) =>
          c!.workerId
        ),
      );
      if (blocking(holders).length === 0) return { waitedMs: Date.now() - started, overridden: [] };
      const remaining = started + maxWaitMs - Date.now();
      if (remaining <= 0) {
        return { waitedMs: Date.now() - started, overridden: blocking(holders) };
      }
      // Watch the claims until the blockers are gone or the wait is over.
      const timeout = new AbortController();
      const timer = setTimeout(() => timeout.abort(), remaining);
      const watchSignal = AbortSignal.any([signal, timeout.signal]);
      try {
        for await (
          const event of store.watchPrefix(prefix, {
            fromRevision: revision + 1,
            signal: watchSignal,
          })
        ) {
          const claim = claimFromKey(event.key);
          if (claim?.task !== name) continue;
          if (event.type === "delete") holders.delete(claim.workerId);
          else holders.add(claim.workerId);
          if (blocking(holders).length === 0) {
            return { waitedMs: Date.now() - started, overridden: [] };
          }
        }
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        if (!(error instanceof StoreUnavailableError)) {
          // A compacted or broken watch: read the claims again.
          this.#options.logger.info("watching claims failed; reading them again", {
            task: name,
            error,
          });
        }
      } finally {
        clearTimeout(timer);
      }
      if (signal.aborted) throw signal.reason;
    }
  }

  /** Runs `operation`, again after a pause while the store is unreachable, until `signal`. */
  async #retrying<T>(signal: AbortSignal, operation: () => Promise<T>): Promise<T> {
    while (true) {
      if (signal.aborted) throw signal.reason;
      try {
        return await operation();
      } catch (error) {
        if (!(error instanceof StoreUnavailableError) || signal.aborted) throw error;
        await delay(this.#options.retryDelayMs ?? 200, { signal });
      }
    }
  }

  /** Chains `operation` after the previous operation on the same task. */
  #serial<T>(name: string, operation: () => Promise<T>): Promise<T> {
    const previous = this.#chains.get(name) ?? Promise.resolve();
    const next = previous.then(operation, operation);
    const settled = next.catch(() => undefined);
    this.#chains.set(name, settled);
    settled.then(() => {
      if (this.#chains.get(name) === settled) this.#chains.delete(name);
    });
    return next;
  }
}
