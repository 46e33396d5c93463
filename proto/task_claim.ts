/**
 * @module
 * The value of a task claim at `/crawler/claims/<task>/<workerId>` (see `keys.ts`): which
 * resource the worker claimed the task for, and when. It lives on the worker's registration
 * lease, so it vanishes with the worker.
 */
import { z } from "zod";

/** Schema of a claim value. */
export const taskClaimSchema = z.object({
  /** The claiming worker's id (also the key's last segment). */
  worker: z.string().min(1),
  /** The ID of the resource the task was claimed for. */
  resource: z.string(),
  /** When the claim was made, ISO 8601. */
  since: z.iso.datetime({ offset: true }),
});

/** A worker's claim on a task. */
export type TaskClaim = z.infer<typeof taskClaimSchema>;

/** Serialises a claim for the store. */
export function encodeTaskClaim(claim: TaskClaim): string {
  return JSON.stringify(taskClaimSchema.parse(claim));
}

/** Parses a claim value. Throws (a `SyntaxError` or zod's error) when it is not one. */
export function decodeTaskClaim(value: string): TaskClaim {
  return taskClaimSchema.parse(JSON.parse(value));
}
