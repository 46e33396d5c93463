/**
 * @module
 * One leadership term ({@linkcode LeaderTerm}): from being elected until the campaign ends, or
 * until a write guarded by the term's election key is refused. The term owns what the leader
 * may only touch while it leads: the mutex, the state, and the guarded writes.
 */
import { Mutex } from "async-mutex";
import type { Logger } from "../log/logger.ts";
import { GuardFailedError, type WriteGuard, type WriteOptions } from "../store/store.ts";
import { NotLeaderError } from "../errors/mod.ts";
import type { LeaderState } from "./leader_state.ts";

/**
 * A leadership term. Everything the leader decides happens under `mutex`, against `state`, and
 * reaches the store through `write`, which is refused once the election key is gone.
 */
export class LeaderTerm {
  readonly mutex = new Mutex();
  /** Aborted when the term ends. */
  readonly signal: AbortSignal;
  readonly #ended = new AbortController();
  readonly #logger: Logger;
  /** Set by the first load; replaced on reloads, always under `mutex`. */
  state: LeaderState | undefined;
  /**
   * True once this term added the missing presets. Presets are added when a master becomes
   * leader (retried until a worker can take them), not on every later change, so a preset a
   * user deleted stays deleted while this leader leads.
   */
  presetsAdded = false;
  /** Set when a worker joins or returns: the next rebalancing round runs whatever the spread. */
  rebalanceWanted = false;
  /**
   * Set when a write took a worker in from the registry ahead of the watch (see
   * `LeaderWrites.create`): the next tick places what waited for a worker, as a join would.
   */
  reconcileWanted = false;
  /** Resolves once the state is loaded: requests wait for it. */
  readonly ready: Promise<void>;
  #markReady!: () => void;

  /**
   * @param campaign aborted when the candidacy (or the master) ends.
   * @param guard the won election's guard: every write made in this term passes it.
   */
  constructor(campaign: AbortSignal, readonly guard: WriteGuard, logger: Logger) {
    this.signal = AbortSignal.any([campaign, this.#ended.signal]);
    this.ready = new Promise((resolve) => (this.#markReady = resolve));
    this.#logger = logger;
  }

  /** Ends the term now: leadership is known to be gone, whatever the campaign knows yet. */
  end(reason: Error): void {
    if (!this.#ended.signal.aborted) this.#ended.abort(reason);
  }

  /** Lets waiting requests in: the state is loaded. */
  markReady(): void {
    this.#markReady();
  }

  /** True until the term ends. */
  get active(): boolean {
    return !this.signal.aborted;
  }

  /** The loaded state; throws `NotLeaderError` when the term ended or has not loaded yet. */
  stateOrThrow(): LeaderState {
    this.throwIfEnded();
    if (!this.state) throw new NotLeaderError("the leader is still loading its state; retry");
    return this.state;
  }

  /** Throws `NotLeaderError` once the term has ended. */
  throwIfEnded(): void {
    if (this.signal.aborted) {
      throw new NotLeaderError("this master lost leadership; retry", { cause: this.signal.reason });
    }
  }

  /**
   * Makes a store write as leader of this term, guarded by the term's election key, so it is
   * applied only while that key still makes this master leader. A refused guard means
   * leadership is gone (the key expired or was deleted, say during a pause, before the
   * campaign noticed): the term ends at once — nothing more is written as leader, and the
   * campaign loop stands again — and the caller gets `NotLeaderError`.
   *
   * A refused guard or a failed call does not always mean nothing was written: the store's
   * client may have retried a write whose first attempt was applied (the answer was lost). When
   * `options.applied` can tell from the store that the write is in effect, its value is
   * returned instead of the error, so the caller is told the truth.
   */
  async write<T>(
    write: (options: WriteOptions) => Promise<T>,
    options: { applied?: () => Promise<T | undefined> } = {},
  ): Promise<T> {
    try {
      return await write({ guard: this.guard });
    } catch (error) {
      const confirmed = options.applied && await options.applied().catch(() => undefined);
      if (!(error instanceof GuardFailedError)) {
        if (confirmed !== undefined) return confirmed;
        throw error;
      }
      this.#logger.warn("a write as leader was refused: leadership lost", { error });
      this.end(error);
      if (confirmed !== undefined) return confirmed;
      throw new NotLeaderError("leadership lost; retry", { cause: error });
    }
  }
}
