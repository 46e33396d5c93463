/**
 * @module
 * One host's schedule as data, and the two transitions every store applies to it under its
 * own lock: claiming a fetch slot and releasing it with what the fetch saw. Keeping the rules
 * here, as pure functions, is what lets the memory, SQLite and Postgres stores agree exactly.
 *
 * The schedule is "next allowed time + in-flight slots" per host: a claim that is not due gets
 * the time to come back instead of a wait, so a caller never sleeps holding anything.
 */

/** A claimed fetch slot, leased so that a worker that dies does not hold its host forever. */
export interface HostSlot {
  id: string;
  /** Epoch ms after which the slot counts as released. */
  until: number;
}

/**
 * A new slot id: `owner/uuid` when the claimer names its worker, so that a process of the same
 * worker started again after a kill can free what the dead one held ({@linkcode dropOwnSlots}).
 */
export function newSlotId(owner?: string): string {
  return owner === undefined ? crypto.randomUUID() : `${owner}/${crypto.randomUUID()}`;
}

/** Drops the slots of `owner` from `state` (mutating it); answers how many there were. */
export function dropOwnSlots(state: HostState, owner: string): number {
  const before = state.slots.length;
  state.slots = state.slots.filter((slot) => !slot.id.startsWith(`${owner}/`));
  return before - state.slots.length;
}

/**
 * Text that the stored state of a host (its JSON) contains when `owner` holds a slot on it: what
 * a SQL store searches for before decoding a row.
 */
export function ownSlotMarker(owner: string): string {
  return `"id":${JSON.stringify(`${owner}/`).slice(0, -1)}`;
}

/** What is known about one host (scheme://host:port), shared by every task and worker. */
export interface HostState {
  host: string;
  /** Epoch ms before which no request may start (the delay since the last one). */
  nextAt: number;
  /** Epoch ms until which the host asked us to stop (429/503 with Retry-After). */
  blockedUntil: number;
  /** Extra delay after 429/503 without Retry-After; doubles on each, 0 after a quiet spell. */
  backoffMs: number;
  /** Epoch ms of the last 429/503. */
  lastThrottleAt: number;
  /** The delay applied at the last claim (for status and metrics). */
  delayMs: number;
  slots: HostSlot[];
  /** Slots the last claim allowed at once (0 before any): with that many held, it is full. */
  room: number;
  /** Requests started. */
  requests: number;
  /** 429 and 503 answers seen. */
  throttled: number;
  /** URLs not fetched because robots.txt disallows them. */
  disallowed: number;
}

/** What a claim asks for: the caller's delay (task delay or Crawl-delay) and concurrency. */
export interface HostLimits {
  /** Minimum ms between requests to the host. */
  delayMs: number;
  /** Most requests in flight to the host at once (with a delay, one: see `claimSlot`). */
  concurrency: number;
}

/** Backoff bounds and slot lease, the same for every host. */
export interface HostPolicy {
  /** Cap on a Retry-After block and on the backed-off delay, in ms. Default 300000. */
  maxBackoffMs: number;
  /** First backed-off delay after a 429/503 without Retry-After, in ms. Default 1000. */
  minBackoffMs: number;
  /** Time without 429/503 after which the backed-off delay returns to normal. Default 60000. */
  quietMs: number;
  /** How long a claimed slot lasts if never released (a worker died). Default 120000. */
  slotLeaseMs: number;
}

/** The defaults of {@linkcode HostPolicy}. */
export const DEFAULT_HOST_POLICY: Readonly<HostPolicy> = {
  maxBackoffMs: 300_000,
  minBackoffMs: 1000,
  quietMs: 60_000,
  slotLeaseMs: 120_000,
};

/** How a fetch ended, as far as the host's schedule cares. */
export type HostOutcome =
  | { kind: "ok" }
  /** 429 or 503; `retryAfterMs` when the answer said how long to wait. */
  | { kind: "throttled"; status: number; retryAfterMs?: number }
  /** Anything else that went wrong (network error, other status). */
  | { kind: "failed" };

/**
 * A claim's answer: a slot, or the earliest time worth asking again: when the host is due
 * ("due"), or when the oldest slot's lease ends ("busy": a release usually comes sooner).
 */
export type ClaimResult =
  | { granted: true; slot: HostSlot }
  | {
    granted: false;
    notBefore: number;
    /** `notBefore` less the store's clock at the claim: what to wait, whatever the clock. */
    waitMs: number;
    reason: "due" | "busy";
  };

/**
 * When the host may next be claimed, as far as its state alone says: after its delay and any
 * block. A frontier's claim skips hosts whose time has not come. A host whose slots are all held
 * is not put off till their leases end: a release comes much sooner, and requests of it wait
 * their turn in the process that holds them (a frontier holds a host with a delay itself).
 */
export function hostDueAt(state: HostState): number {
  return Math.max(state.nextAt, state.blockedUntil);
}

/** A fresh host: due now, nothing in flight. */
export function newHostState(host: string): HostState {
  return {
    host,
    nextAt: 0,
    blockedUntil: 0,
    backoffMs: 0,
    lastThrottleAt: 0,
    delayMs: 0,
    slots: [],
    room: 0,
    requests: 0,
    throttled: 0,
    disallowed: 0,
  };
}

/** The delay in force: the caller's, or the backed-off one if larger. */
export function effectiveDelayMs(state: HostState, limits: HostLimits): number {
  return Math.max(limits.delayMs, state.backoffMs);
}

/**
 * Claims a slot on `state` (mutating it) if the host is due and has room.
 *
 * With a delay in force the host takes one request at a time and the delay counts from the end
 * of the previous response as well as its start: so the server sees requests at least the
 * delay apart, whatever the network or a busy worker adds between claim and send.
 */
export function claimSlot(
  state: HostState,
  limits: HostLimits,
  now: number,
  policy: HostPolicy,
  slotId: string,
): ClaimResult {
  state.slots = state.slots.filter((slot) => slot.until > now);
  if (state.backoffMs > 0 && now - state.lastThrottleAt >= policy.quietMs) state.backoffMs = 0;
  const delay = effectiveDelayMs(state, limits);
  const due = Math.max(state.nextAt, state.blockedUntil);
  if (now < due) return { granted: false, notBefore: due, waitMs: due - now, reason: "due" };
  const room = delay > 0 ? 1 : Math.max(1, limits.concurrency);
  state.room = room;
  if (state.slots.length >= room) {
    // Busy: a release will come first, or at the latest the oldest lease's end.
    const notBefore = Math.min(...state.slots.map((slot) => slot.until));
    return { granted: false, notBefore, waitMs: notBefore - now, reason: "busy" };
  }
  const slot = { id: slotId, until: now + policy.slotLeaseMs };
  state.slots.push(slot);
  state.nextAt = now + delay;
  state.delayMs = delay;
  state.requests++;
  return { granted: true, slot };
}

/**
 * Releases a slot (mutating `state`) and applies what the fetch saw: a Retry-After blocks the
 * host until then (capped); a 429/503 without one doubles the delay (capped).
 */
export function releaseSlot(
  state: HostState,
  slotId: string,
  outcome: HostOutcome,
  limits: HostLimits,
  now: number,
  policy: HostPolicy,
): void {
  state.slots = state.slots.filter((slot) => slot.id !== slotId && slot.until > now);
  if (outcome.kind === "throttled") {
    state.throttled++;
    state.lastThrottleAt = now;
    if (outcome.retryAfterMs !== undefined) {
      state.blockedUntil = Math.max(
        state.blockedUntil,
        now + Math.min(outcome.retryAfterMs, policy.maxBackoffMs),
      );
    } else {
      const doubled = 2 * Math.max(state.backoffMs, limits.delayMs, policy.minBackoffMs / 2);
      state.backoffMs = Math.min(policy.maxBackoffMs, doubled);
    }
  }
  const delay = effectiveDelayMs(state, limits);
  state.delayMs = delay;
  if (delay > 0) state.nextAt = Math.max(state.nextAt, now + delay);
}
