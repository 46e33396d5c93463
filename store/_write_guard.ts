/**
 * @module
 * The check both stores make on a write guard before using it.
 */

import type { WriteGuard } from "./store.ts";

/**
 * Throws a `RangeError` for a guard that cannot name an existing key (create revisions start
 * at 1): such a guard is a programming mistake, not a lost race.
 */
export function checkWriteGuard(guard: WriteGuard): void {
  if (!Number.isInteger(guard.createRevision) || guard.createRevision < 1) {
    throw new RangeError(
      `a write guard's create revision must be a whole number >= 1: ${guard.createRevision}`,
    );
  }
}
