/**
 * @module
 * The value at `/crawler/deleted/<name>`: which resource was deleted and when. The leader writes
 * it before the delete and prunes it after a while; a delete of a name that is gone but has a
 * fresh record answers success (the caller's earlier attempt did it).
 */
import { z } from "zod";

/** Schema of a deletion record. */
export const tombstoneSchema = z.object({
  /** The deleted resource's ID. */
  ID: z.string(),
  /** When the leader deleted it, ms since the epoch. */
  DeletedAt: z.number().nonnegative(),
});

/** A deletion record. */
export type Tombstone = z.infer<typeof tombstoneSchema>;

/** Serialises a deletion record. */
export function encodeTombstone(tombstone: Tombstone): string {
  return JSON.stringify(tombstone);
}

/** Parses a deletion record; throws when the value is not one. */
export function decodeTombstone(value: string): Tombstone {
  return tombstoneSchema.parse(JSON.parse(value));
}
