/**
 * @module
 * Recrawl settings as written (docs/config.md, "Recrawl"): a task's `recrawl` in an API spec and
 * a declarative rule's `recrawl` (`{interval, min, max, adaptive}`), a config task's `Recrawl`
 * (`{Interval, Min, Max, Adaptive}`), and the checks that turn them into `RecrawlPolicy`s.
 *
 * The schemas only check the shape: a rule's policy builds on its task's, so whether its values
 * fit together is known only where both are, and is checked there with
 * {@linkcode addRecrawlIssues}. The parsed value stays as written (plain JSON for etcd and gRPC).
 */
import { z } from "zod";
import { DEFAULT_RECRAWL, parseDuration, type RecrawlPolicy, recrawlPolicy } from "./recrawl.ts";

/** `"90s"`, `"15m"`, `"24h"`, `"14d"`, `"250ms"` or a number of milliseconds. */
const durationInput = z.union([z.string().max(100), z.number()]);

/** A strict object whose unknown keys are named with the keys it knows. */
function recrawlObject<S extends z.ZodRawShape>(shape: S) {
  const known = Object.keys(shape).join(", ");
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === "unrecognized_keys"
        ? `unknown key${issue.keys.length > 1 ? "s" : ""} ${
          issue.keys.map((k) => JSON.stringify(k)).join(", ")
        } (recrawl keys: ${known})`
        : undefined,
  });
}

/**
 * A task's or a rule's `recrawl` in a spec: every key optional, unknown keys rejected.
 *
 * @example
 * ```ts
 * recrawlSpecSchema.parse({ interval: "24h", min: "1h", max: "14d", adaptive: true });
 * ```
 */
export const recrawlSpecSchema = recrawlObject({
  /** The interval of a page fetched for the first time. Default 24h. */
  interval: durationInput.optional(),
  /** The shortest an adaptive interval shrinks to. Default 1h (or the interval, if shorter). */
  min: durationInput.optional(),
  /** The longest an adaptive interval grows to. Default 14d (or the interval, if longer). */
  max: durationInput.optional(),
  /** Grow the interval ×1.5 while a page stays the same, halve it when it changes. Default true. */
  adaptive: z.boolean().optional(),
});

/** A `recrawl` as written in a spec. */
export type RecrawlSpec = z.infer<typeof recrawlSpecSchema>;

/** A config task's `Recrawl` (the config's capitalised style). */
export const recrawlConfigSchema = recrawlObject({
  Interval: durationInput.optional(),
  Min: durationInput.optional(),
  Max: durationInput.optional(),
  Adaptive: z.boolean().optional(),
});

/** A `Recrawl` as written in the config. */
export type RecrawlConfig = z.infer<typeof recrawlConfigSchema>;

/** The spec form of a config `Recrawl`. */
export function recrawlSpecFromConfig(config: RecrawlConfig): RecrawlSpec {
  return {
    interval: config.Interval,
    min: config.Min,
    max: config.Max,
    adaptive: config.Adaptive,
  };
}

/** What is wrong with a written `recrawl`: the key (spec form) and why. */
export interface RecrawlIssue {
  /** The key to blame: one the user wrote where it can be. */
  key: "interval" | "min" | "max";
  /** Why, e.g. `recrawl min (2d) is above max (1d)`. */
  message: string;
}

/**
 * What keeps `spec` from becoming a policy over `base`: every duration that does not parse, else
 * the one way its values do not fit (`min` above `max`, the interval outside them). Empty when
 * {@linkcode recrawlPolicy} would accept it.
 */
export function recrawlIssues(
  spec: RecrawlSpec,
  base: Readonly<RecrawlPolicy> = DEFAULT_RECRAWL,
): RecrawlIssue[] {
  const issues: RecrawlIssue[] = [];
  for (const key of ["interval", "min", "max"] as const) {
    const value = spec[key];
    if (value === undefined) continue;
    try {
      parseDuration(value);
    } catch (error) {
      issues.push({ key, message: (error as Error).message });
    }
  }
  if (issues.length > 0) return issues;
  try {
    recrawlPolicy(spec, base);
    return [];
  } catch (error) {
    return [{ key: culprit(spec, base), message: (error as Error).message }];
  }
}

/**
 * The written key to blame for values that do not fit: one the user set, not a default. Its
 * bounds are `recrawlPolicy`'s.
 */
function culprit(spec: RecrawlSpec, base: Readonly<RecrawlPolicy>): RecrawlIssue["key"] {
  const interval = spec.interval === undefined ? base.intervalMs : parseDuration(spec.interval);
  const min = spec.min === undefined ? Math.min(base.minMs, interval) : parseDuration(spec.min);
  const max = spec.max === undefined ? Math.max(base.maxMs, interval) : parseDuration(spec.max);
  if (min > max) return spec.min !== undefined ? "min" : "max";
  if (spec.interval !== undefined) return "interval";
  return interval < min ? "min" : "max";
}

/** Where {@linkcode addRecrawlIssues} reports, and how it names the keys. */
export interface RecrawlCheckOptions {
  /** The path of the task's `recrawl`, e.g. `["recrawl"]` or `["Recrawl"]`. */
  taskPath: readonly PropertyKey[];
  /** The path of the rules, e.g. `["rules"]` or `["Spec", "rules"]`. */
  rulesPath: readonly PropertyKey[];
  /** Writes the task's keys as its form does: `Interval` in the config. Default: as is. */
  taskKey?: (key: RecrawlIssue["key"]) => string;
  /** Put before every message, e.g. `task "books": `. Default none. */
  prefix?: string;
}

/**
 * Checks a task's `recrawl` over the defaults and each rule's over the task's, adding an issue
 * naming the key for each value that does not parse or fit.
 *
 * @example
 * ```ts
 * schema.superRefine((spec, ctx) =>
 *   addRecrawlIssues(ctx, spec.recrawl, spec.rules, { taskPath: ["recrawl"], rulesPath: ["rules"] })
 * );
 * ```
 */
export function addRecrawlIssues(
  ctx: z.RefinementCtx,
  task: RecrawlSpec | undefined,
  rules: Readonly<Record<string, { recrawl?: RecrawlSpec }>> | undefined,
  options: RecrawlCheckOptions,
): void {
  const prefix = options.prefix ?? "";
  const taskKey = options.taskKey ?? ((key) => key);
  let base: RecrawlPolicy = DEFAULT_RECRAWL;
  if (task !== undefined) {
    const issues = recrawlIssues(task);
    for (const { key, message } of issues) {
      ctx.addIssue({
        code: "custom",
        path: [...options.taskPath, taskKey(key)],
        message: prefix + message,
      });
    }
    // The rules build on the task's policy: without one, their own issues would be guesses.
    if (issues.length > 0) return;
    base = recrawlPolicy(task);
  }
  for (const [name, rule] of Object.entries(rules ?? {})) {
    if (rule.recrawl === undefined) continue;
    for (const { key, message } of recrawlIssues(rule.recrawl, base)) {
      ctx.addIssue({
        code: "custom",
        path: [...options.rulesPath, name, "recrawl", key],
        message: prefix + message,
      });
    }
  }
}

/** The task's policy from its written `recrawl`; none when it has none. Throws as `recrawlPolicy`. */
export function taskRecrawlPolicy(spec: RecrawlSpec | undefined): RecrawlPolicy | undefined {
  return spec === undefined ? undefined : recrawlPolicy(spec);
}

/**
 * Each rule's policy from its written `recrawl`, over the task's (or the defaults when the task
 * has none); undefined when no rule has one. Throws as `recrawlPolicy`, naming the rule.
 */
export function ruleRecrawlPolicies(
  rules: Readonly<Record<string, { recrawl?: RecrawlSpec }>>,
  task: RecrawlPolicy | undefined,
): Record<string, RecrawlPolicy> | undefined {
  const policies: Record<string, RecrawlPolicy> = {};
  for (const [name, rule] of Object.entries(rules)) {
    if (rule.recrawl === undefined) continue;
    try {
      policies[name] = recrawlPolicy(rule.recrawl, task ?? DEFAULT_RECRAWL);
    } catch (error) {
      throw new Error(`rules.${name}.recrawl: ${(error as Error).message}`, { cause: error });
    }
  }
  return Object.keys(policies).length > 0 ? policies : undefined;
}
