import type { HostState } from "./host_state.ts";
import type { HostSnapshot } from "./host_store.ts";

/** What status and metrics show of a host's state at `now`. */
export function snapshotOf(state: HostState, now: number): HostSnapshot {
  return {
    host: state.host,
    requests: state.requests,
    throttled: state.throttled,
    disallowed: state.disallowed,
    delayMs: state.delayMs,
    blockedUntil: state.blockedUntil > now ? state.blockedUntil : 0,
    inFlight: state.slots.filter((slot) => slot.until > now).length,
    dueInMs: Math.max(0, state.nextAt - now, state.blockedUntil - now),
  };
}
