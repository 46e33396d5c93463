/**
 * @module
 * Idempotency keys (the IETF `Idempotency-Key` header draft; Stripe's and AWS's client tokens):
 * where a client puts one on the wire, what a valid one looks like, and the record the leader
 * keeps at `/crawler/idempotency/<key>` of what it answered to the write that carried it.
 */
import { z } from "zod";

/** The HTTP header of a write's idempotency key. */
export const IDEMPOTENCY_KEY_HEADER = "Idempotency-Key";

/** The gRPC metadata key of a write's idempotency key (metadata keys are lower case). */
export const IDEMPOTENCY_KEY_METADATA_KEY = "idempotency-key";

/** Longest accepted idempotency key. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

/**
 * An idempotency key: 1–255 visible ASCII characters (a UUID is a good one). It is the last
 * segment of its store key, so it is kept free of spaces and control characters.
 */
export const idempotencyKeySchema = z.string()
  .min(1, "must not be empty")
  .max(MAX_IDEMPOTENCY_KEY_LENGTH, `must be at most ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`)
  .regex(/^[\x21-\x7e]+$/, "must be visible ASCII characters only (no spaces)");

/** Schema of an idempotency record. */
export const idempotencyRecordSchema = z.object({
  /** SHA-256 (hex) of the write (its operation and body): a reused key must carry the same. */
  Fingerprint: z.string().regex(/^[0-9a-f]{64}$/),
  /** When the leader answered, ms since the epoch; the record is kept for the window after it. */
  CreatedAt: z.number().nonnegative(),
  /** What the write answered: the answer's value, or the refusal (an error kind and message). */
  Outcome: z.union([
    z.object({ Answer: z.unknown() }),
    z.object({ Error: z.object({ Kind: z.string().min(1), Message: z.string() }) }),
  ]),
});

/** What the leader answered to a write with an idempotency key. */
export type IdempotencyRecord = z.infer<typeof idempotencyRecordSchema>;

/** Serialises an idempotency record. */
export function encodeIdempotencyRecord(record: IdempotencyRecord): string {
  return JSON.stringify(record);
}

/** Parses an idempotency record; throws when the value is not one. */
export function decodeIdempotencyRecord(value: string): IdempotencyRecord {
  return idempotencyRecordSchema.parse(JSON.parse(value));
}

/**
 * A new idempotency key for one logical write, to send with it and with each of its retries.
 * It uses `crypto.getRandomValues`, which (unlike `crypto.randomUUID`) browsers also offer on
 * plain-HTTP pages; the dashboard builds its keys the same way.
 */
export function newIdempotencyKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
