/** One output record of a rule, stored with its task, rule, URL and time (SPEC §6). */
export interface Item {
  task: string;
  rule: string;
  url: string;
  /** When the item was produced, ms since the epoch. */
  time: number;
  data: Record<string, unknown>;
}
