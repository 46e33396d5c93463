import { hostDueAt, type HostState } from "./host_state.ts";

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
    state: JSON.stringify(state),
    dueAt: hostDueAt(state),
    inFlight: state.slots.length,
  };
}
