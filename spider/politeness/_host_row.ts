import { hostDueAt, type HostState, newHostState } from "./host_state.ts";

/**
 * The row a SQL host store keeps for a host: the whole state as JSON (so every store applies
 * the same transitions), plus `due_at` and `in_flight` as columns a frontier's claim can join on.
 */
export interface HostRow {
  state: string;
  dueAt: number;
  inFlight: number;
}

export function hostRow(state: HostState): HostRow {
  return {
    state: encodeHostState(state),
    dueAt: hostDueAt(state),
    inFlight: state.slots.length,
  };
}

/**
 * The state as stored: only what differs from a fresh host, without the host (the row's key).
 * A broad crawl keeps one row per host, most of them a host fetched once or twice.
 */
export function encodeHostState(state: HostState): string {
  const fresh = newHostState(state.host) as unknown as Record<string, unknown>;
  const kept: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(state)) {
    if (key === "host") continue;
    if (Array.isArray(value) ? value.length > 0 : value !== fresh[key]) kept[key] = value;
  }
  return JSON.stringify(kept);
}

/** The state of `host` from its stored text (`encodeHostState`, or the whole state as before). */
export function decodeHostState(host: string, text: string): HostState {
  return { ...newHostState(host), ...JSON.parse(text), host };
}
