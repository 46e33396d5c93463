/**
 * @module
 * The one rate-limit type: `eventCount` events per `eventDur` seconds with bursts of up to
 * `bucket` (one entry of a task's `Limits`, the Go project's `Limit`). The API's task specs
 * check it with {@linkcode limitSpecSchema}, the config spells its keys the Go way
 * (`EventCount`, `EventDur`, `Bucket`) over the same checks, and `TokenBucket.fromSpec` turns
 * it into a limiter.
 */
import { z } from "zod";

/**
 * One rate-limit bucket: `eventCount` events per `eventDur` seconds, bursts of `bucket`.
 * Unknown keys are rejected.
 *
 * @example
 * ```ts
 * const limit = limitSpecSchema.parse({ eventCount: 1, eventDur: 3, bucket: 1 }); // 1 per 3 s
 * ```
 */
export const limitSpecSchema = z.strictObject({
  eventCount: z.number().int().positive(),
  eventDur: z.number().positive(),
  bucket: z.number().int().positive(),
});

/** One rate-limit bucket: `eventCount` events per `eventDur` seconds, bursts of `bucket`. */
export type LimitSpec = z.infer<typeof limitSpecSchema>;
