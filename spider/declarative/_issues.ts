/**
 * @module
 * Formats zod issues as `path: message`, the way config and API errors name a key.
 */
import type { z } from "zod";

/** `rules.page.links[0].regex: invalid regular expression …; …` */
export function formatIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `${formatPath(issue.path) || "spec"}: ${issue.message}`)
    .join("; ");
}

/** `["rules", "page", "links", 0]` → `rules.page.links[0]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) {
    out += typeof part === "number" ? `[${part}]` : out ? `.${String(part)}` : String(part);
  }
  return out;
}
