/**
 * @module
 * Where hosts' politeness state lives: the schedule (next allowed time, in-flight slots,
 * backoff), the counters, and each host's robots.txt. One store is shared by every task and
 * every worker crawling from the same frontier, so a host sees one schedule however many
 * processes crawl it. Implementations: memory (one process), SQLite and Postgres (the frontier's
 * database).
 */
import type { ClaimResult, HostLimits, HostOutcome } from "./host_state.ts";
import type { RobotsOutcome } from "./robots_rules.ts";

/** A host's robots.txt as fetched, kept until `expiresAt`. */
export interface RobotsRecord {
  outcome: RobotsOutcome;
  /** The text, when the outcome is "parsed"; why it could not be read, for "disallow-all". */
  text: string;
  fetchedAt: number;
  /** Epoch ms after which it is fetched again. */
  expiresAt: number;
}

/** A host's counters and schedule, as status pages and metrics show them. */
export interface HostSnapshot {
  host: string;
  requests: number;
  /** 429 and 503 answers. */
  throttled: number;
  disallowed: number;
  /** The delay in force, ms. */
  delayMs: number;
  /** Epoch ms the host is blocked until (Retry-After), or 0. */
  blockedUntil: number;
  inFlight: number;
  /** How long until the host may be asked again (its delay and any block), ms; 0 if now. */
  dueInMs?: number;
}

/**
 * The shared politeness state. Every method is atomic: two workers claiming the last slot of a
 * host get one grant between them.
 */
export interface HostStore {
  /** Claims a fetch slot on `host` if it is due and has room (see `claimSlot`). */
  claim(host: string, limits: HostLimits): Promise<ClaimResult>;
  /** Releases a slot with what its fetch saw (see `releaseSlot`); answers the host's state. */
  release(
    host: string,
    slotId: string,
    outcome: HostOutcome,
    limits: HostLimits,
  ): Promise<HostSnapshot>;
  /** Counts URLs of `host` not fetched because robots.txt disallows them. */
  addDisallowed(host: string, count: number): Promise<void>;
  /** The host's stored robots.txt, expired or not; `undefined` if never fetched. */
  robots(host: string): Promise<RobotsRecord | undefined>;
  saveRobots(host: string, record: RobotsRecord): Promise<void>;
  /**
   * Frees the slots this store's owner (`HostStoreOptions.owner`) holds on any host: a process
   * of the same worker id killed mid-fetch left them, and they would hold their hosts until
   * their leases end. Call once at start, before claiming. Answers how many were freed; 0 when
   * the store has no owner.
   */
  releaseOwn(): Promise<number>;
  /** Snapshots of `hosts` (all hosts when omitted), in host order. */
  snapshot(hosts?: readonly string[]): Promise<HostSnapshot[]>;
  close(): Promise<void>;
}
