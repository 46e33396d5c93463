/**
 * @module
 * The request types a rendered page may be kept from loading (`[browser] block`).
 */

/** Chromium's resource types as puppeteer names them (lowercase), except the page itself. */
export const BLOCKABLE_RESOURCE_TYPES = [
  "stylesheet",
  "image",
  "media",
  "font",
  "script",
  "texttrack",
  "xhr",
  "fetch",
  "prefetch",
  "eventsource",
  "websocket",
  "manifest",
  "signedexchange",
  "ping",
  "cspviolationreport",
  "preflight",
  "other",
] as const;

/** One of {@linkcode BLOCKABLE_RESOURCE_TYPES}. */
export type BlockableResourceType = typeof BLOCKABLE_RESOURCE_TYPES[number];
