/**
 * @module
 * Checks the regular expressions of a declarative spec before anything runs: they must compile,
 * and have a capture group where the rule reads group 1.
 */

/** The problem with `source` as a regular expression, or undefined if there is none. */
export function patternError(
  source: string,
  options: { groups?: number } = {},
): string | undefined {
  let regex: RegExp;
  try {
    regex = new RegExp(source);
  } catch (error) {
    return `invalid regular expression ${JSON.stringify(source)}: ${(error as Error).message}`;
  }
  const needed = options.groups ?? 0;
  if (needed > 0 && captureGroups(regex) < needed) {
    return `regular expression ${
      JSON.stringify(source)
    } needs a capture group: group 1 is the value`;
  }
  return undefined;
}

/** Number of capture groups of `regex` (matching the empty alternative reports every group). */
function captureGroups(regex: RegExp): number {
  return new RegExp(`${regex.source}|`).exec("")!.length - 1;
}
