/**
 * @module
 * `TaskSpec` (SPEC §5): a task defined when it is added through the API, instead of by preset
 * name. It travels in the add request and is stored as the resource's `Spec`, so the worker the
 * task lands on can build it without knowing it in advance.
 */
import { z } from "zod";
import type { TaskDefinition } from "../spider/task_definition.ts";

/** One rate-limit bucket: `eventCount` events per `eventDur` seconds, bursts of `bucket`. */
export const limitSpecSchema = z.strictObject({
  eventCount: z.number().int().positive(),
  eventDur: z.number().positive(),
  bucket: z.number().int().positive(),
});

/**
 * A task that runs a built-in rule set (`rule`) with the options the caller sets; unset options
 * fall back to the rule set's defaults. Unknown keys are rejected, so a typo is a clear 400 rather
 * than an option silently ignored.
 */
export const builtinTaskSpecSchema = z.strictObject({
  /** The built-in rule set to run (checked against the rule sets by the master). */
  rule: z.string().min(1),
  url: z.url().optional(),
  waitTime: z.number().nonnegative().optional(),
  maxDepth: z.number().int().nonnegative().optional(),
  reload: z.boolean().optional(),
  cookie: z.string().optional(),
  limits: z.array(limitSpecSchema).optional(),
});

/**
 * Every accepted spec shape. Extension point: declarative rule sets (SPEC §3) arrive in a later
 * issue as a second member of a union here (`z.union([builtinTaskSpecSchema, declarativeSpec])`);
 * code that only needs the built-in case narrows with {@linkcode isBuiltinTaskSpec}.
 */
export const taskSpecSchema = builtinTaskSpecSchema;

/** A task spec as sent in an add request and stored in `/resources/<name>` as `Spec`. */
export type TaskSpec = z.infer<typeof taskSpecSchema>;

/** A spec that names a built-in rule set (today every spec; see {@linkcode taskSpecSchema}). */
export function isBuiltinTaskSpec(spec: TaskSpec): spec is z.infer<typeof builtinTaskSpecSchema> {
  return typeof spec.rule === "string";
}

/** The task definition a worker builds from a resource named `name` carrying `spec`. */
export function taskDefinitionFromSpec(name: string, spec: TaskSpec): TaskDefinition {
  return {
    name,
    rule: spec.rule,
    url: spec.url,
    waitTime: spec.waitTime,
    maxDepth: spec.maxDepth,
    reload: spec.reload,
    cookie: spec.cookie,
    limits: spec.limits?.map((l) => ({ ...l })),
  };
}
