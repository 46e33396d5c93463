/**
 * @module
 * Checks a request against its zod schema and turns the failure into an
 * `InvalidArgumentError` whose message names each bad field and says why.
 */
import type { z } from "zod";
import { InvalidArgumentError } from "../errors/mod.ts";

/**
 * Parses `value` with `schema`; throws `InvalidArgumentError` with messages like
 * `name: required (expected string)` or `spec.limits[0].eventCount: Too small: expected number to be >0`.
 */
export function parseRequest<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new InvalidArgumentError(result.error.issues.map(formatIssue).join("; "), {
    cause: result.error,
  });
}

function formatIssue(issue: z.core.$ZodIssue): string {
  const path = formatPath(issue.path) || "body";
  if (issue.code === "invalid_type" && / received undefined$/.test(issue.message)) {
    return `${path}: required (expected ${issue.expected})`;
  }
  return `${path}: ${issue.message}`;
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) {
    out += typeof part === "number" ? `[${part}]` : out ? `.${String(part)}` : String(part);
  }
  return out;
}
