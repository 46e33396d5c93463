/**
 * @module
 * Items: what rules output, each with a stable key so a page stored twice is one row.
 */

/**
 * One output record of a rule, stored with its task, rule, URL and time (docs/operating.md,
 * "Results").
 */
export interface Item {
  task: string;
  rule: string;
  url: string;
  /** When the item was produced, ms since the epoch. */
  time: number;
  /**
   * Identifies the item within its task (see {@linkcode itemKey}): the sink upserts on
   * (task, key), so a page crawled twice — after a failover, a lease expiry, a crash before the
   * ack — replaces its rows instead of adding more.
   */
  key: string;
  data: Record<string, unknown>;
}

/**
 * The key of the item at `position` (0-based, in output order) on the page at `url`:
 * `<url>#<position>`, e.g. `http://shop.test/list?page=2#3`. With `keyField`, the rule says
 * one of the item's fields identifies it wherever it is found: the key is then
 * `<field>=<value>`, e.g. `isbn=9787506365437`, so the same book on two pages is one row. A key
 * field with no value (missing, null or empty) falls back to the position.
 */
export function itemKey(
  url: string,
  position: number,
  data: Record<string, unknown>,
  keyField?: string,
): string {
  if (keyField !== undefined) {
    const value = data[keyField];
    if (value !== undefined && value !== null && value !== "") {
      return `${keyField}=${typeof value === "string" ? value : JSON.stringify(value)}`;
    }
  }
  return `${url}#${position}`;
}
