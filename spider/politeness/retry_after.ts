/**
 * @module
 * Reading a `Retry-After` header (RFC 9110 §10.2.3): delay-seconds or an HTTP date.
 */

/**
 * How long a `Retry-After` value asks to wait, in ms from `now`: a number of seconds, or an
 * HTTP date (a date in the past means 0). `undefined` when the header is missing or is neither.
 *
 * @example
 * ```ts
 * retryAfterMs("2", Date.now()); // 2000
 * retryAfterMs("Wed, 21 Oct 2015 07:28:00 GMT", Date.now()); // 0: long past
 * ```
 */
export function retryAfterMs(value: string | null | undefined, now: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Only full dates: Date.parse would take "3" or "tomorrow" in some forms.
  if (!/[A-Za-z]{3}.*\d{4}.*\d{2}:\d{2}:\d{2}/.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}
