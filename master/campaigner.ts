/**
 * @module
 * The campaign loop ({@linkcode Campaigner}): observes who leads at all times, stands for
 * leadership, and for each won election runs one {@linkcode LeaderTerm} until it ends, then
 * stands again.
 */
import { delay } from "../async/delay.ts";
import type { Logger } from "../log/logger.ts";
import type { Campaign, Election } from "../store/store.ts";
import { NotLeaderError } from "../errors/mod.ts";
import { LeaderTerm } from "./leader_term.ts";
import { retryDelay, type RetryDelays } from "./_retry_delay.ts";
import { waitFor } from "./_wait.ts";

/** Options for {@linkcode Campaigner}. */
export interface CampaignerOptions {
  /** This master's id, the value it campaigns with. */
  id: string;
  election: Election;
  /** Runs the leader's duties for one term; resolves when the term ends. */
  lead: (term: LeaderTerm) => Promise<void>;
  /** How long a request waits for the term's state to load, ms. */
  requestTimeoutMs: number;
  retry: RetryDelays;
  logger: Logger;
}

/** Campaigns, observes the leader, and hands out the current term. */
export class Campaigner {
  readonly #options: CampaignerOptions;
  readonly #logger: Logger;
  readonly #stop = new AbortController();
  #loops: Promise<void>[] = [];
  #campaign: Campaign | undefined;
  #term: LeaderTerm | undefined;
  #observedLeader: string | undefined;

  constructor(options: CampaignerOptions) {
    this.#options = options;
    this.#logger = options.logger;
  }

  /** Starts observing the leader and campaigning. Call once. */
  start(): void {
    if (this.#loops.length > 0 || this.#stop.signal.aborted) {
      throw new Error("a master can be started only once");
    }
    // The loops handle their own failures; this catch is for bugs, which must be seen in the
    // log rather than end as unhandled rejections.
    this.#loops = [this.#observeLoop(), this.#campaignLoop()].map((loop) =>
      loop.catch((error) => this.#logger.error("master loop crashed", { error }))
    );
  }

  /** Stops acting as leader, resigns (so another master takes over at once) and ends the loops. */
  async stop(): Promise<void> {
    if (!this.#stop.signal.aborted) this.#stop.abort(new Error("master stopped"));
    if (this.#campaign) await this.#resign(this.#campaign);
    await Promise.all(this.#loops);
  }

  /** The term this master leads in, or undefined. */
  activeTerm(): LeaderTerm | undefined {
    const term = this.#term;
    return term && term.active ? term : undefined;
  }

  /** The leader's id as last observed (possibly this master's own). */
  get observedLeader(): string | undefined {
    return this.#observedLeader;
  }

  /**
   * The term to act in when this master leads (waiting for its state to load); undefined when
   * another master leads and the request should be forwarded.
   */
  async leaderTerm(signal?: AbortSignal): Promise<LeaderTerm | undefined> {
    let term = this.activeTerm();
    if (!term && this.#observedLeader === this.#options.id) {
      // The observer saw our election before the campaign reported it: wait for the term
      // rather than fail a request this master is about to be able to serve.
      term = await this.#awaitOwnTerm(signal);
    }
    if (!term) return undefined;
    const both = signal ? AbortSignal.any([signal, term.signal]) : term.signal;
    try {
      await waitFor(term.ready, {
        timeoutMs: this.#options.requestTimeoutMs,
        signal: both,
        onTimeout: () => new NotLeaderError("the leader is still loading its state; retry"),
      });
    } catch (error) {
      if (term.signal.aborted) {
        throw new NotLeaderError("leadership changed while the request waited; retry", {
          cause: error,
        });
      }
      throw error;
    }
    return term;
  }

  async #awaitOwnTerm(signal: AbortSignal | undefined): Promise<LeaderTerm | undefined> {
    const deadline = Date.now() + Math.min(this.#options.requestTimeoutMs, 3000);
    while (Date.now() < deadline) {
      const term = this.activeTerm();
      if (term || this.#observedLeader !== this.#options.id) return term;
      await delay(20, { signal });
    }
    throw new NotLeaderError("leadership is changing; retry");
  }

  async #resign(campaign: Campaign): Promise<void> {
    try {
      await campaign.resign();
    } catch (error) {
      // The lease then runs out on its own: leadership passes after its TTL instead of at once.
      this.#logger.warn("resigning failed", { error });
    }
  }

  async #observeLoop(): Promise<void> {
    const stop = this.#stop.signal;
    for (let attempt = 0; !stop.aborted;) {
      try {
        for await (const leader of this.#options.election.observe({ signal: stop })) {
          attempt = 0;
          if (leader !== this.#observedLeader) {
            this.#logger.info("watch leader change", { leader: leader ?? null });
          }
          this.#observedLeader = leader;
        }
        if (stop.aborted) return;
        throw new Error("the leader observer ended");
      } catch (error) {
        if (stop.aborted) return;
        this.#logger.warn("observing the leader failed; observing again", { error });
        await retryDelay(attempt++, this.#options.retry, stop);
      }
    }
  }

  async #campaignLoop(): Promise<void> {
    const stop = this.#stop.signal;
    const { id, election } = this.#options;
    for (let attempt = 0; !stop.aborted;) {
      const campaign = election.campaign(id);
      this.#campaign = campaign;
      try {
        await campaign.elected;
      } catch (error) {
        if (stop.aborted) return;
        this.#logger.warn("campaign ended before it was elected; campaigning again", { error });
        await retryDelay(attempt++, this.#options.retry, stop);
        continue;
      }
      attempt = 0;
      const guard = campaign.guard;
      if (!guard) throw new Error("an elected campaign has no write guard");
      const term = new LeaderTerm(AbortSignal.any([campaign.signal, stop]), guard, this.#logger);
      this.#term = term;
      this.#logger.info("master start change to leader", { id });
      await this.#options.lead(term);
      if (this.#term === term) this.#term = undefined;
      if (stop.aborted) return;
      this.#logger.warn("lost leadership; campaigning again", { reason: term.signal.reason });
      if (!campaign.signal.aborted) {
        // The term ended on a refused write while the candidacy still looks alive (its key was
        // deleted or replaced behind its back): give it up, lease and all, before standing again.
        await this.#resign(campaign);
      }
    }
  }
}
