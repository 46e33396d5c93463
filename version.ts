/**
 * @module
 * The program's version, printed by `crawler --version` (kept equal to `version` in deno.json).
 */

/** The version of this build. */
export const VERSION = "0.13.0";
