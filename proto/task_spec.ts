/**
 * @module
 * `TaskSpec` (SPEC §5): a task defined when it is added through the API, instead of by preset
 * name. It travels in the add request and is stored as the resource's `Spec`, so the worker the
 * task lands on can build it without knowing it in advance.
 */
import { z } from "zod";
import type { TaskDefinition } from "../spider/task_definition.ts";
import {
  declarativeTaskDefinition,
  isDeclarativeTaskSpec,
  withDeclarativeSpec,
} from "../spider/declarative/declarative_task_spec.ts";
import {
  politenessFromSpec,
  politenessSpecShape,
  withPoliteness,
} from "../spider/politeness/politeness_spec.ts";

/** One rate-limit bucket: `eventCount` events per `eventDur` seconds, bursts of `bucket`. */
export const limitSpecSchema = z.strictObject({
  eventCount: z.number().int().positive(),
  eventDur: z.number().positive(),
  bucket: z.number().int().positive(),
});

/** `workers`: how many distinct workers the leader places a task on. */
export const workersSchema = z.number().int().min(1).max(64);

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
  /** How many workers run the task together from its shared frontier (SPEC §7). Default 1. */
  workers: workersSchema.optional(),
  /** `"browser"` renders every page in Chromium before the rules parse it. Default `"http"`. */
  fetcher: z.enum(["http", "browser"]).optional(),
  ...politenessSpecShape,
});

/**
 * Every accepted spec shape: a built-in rule set by name (`rule`), or a declarative rule set
 * (`rules`, SPEC §3). A dispatcher rather than `z.union`, so errors name the field that is wrong.
 */
export const taskSpecSchema = withDeclarativeSpec(builtinTaskSpecSchema);

/** A task spec as sent in an add request and stored in `/resources/<name>` as `Spec`. */
export type TaskSpec = z.infer<typeof taskSpecSchema>;

/** A spec that names a built-in rule set (rather than carrying a declarative one). */
export function isBuiltinTaskSpec(spec: TaskSpec): spec is z.infer<typeof builtinTaskSpecSchema> {
  return !isDeclarativeTaskSpec(spec);
}

/** How many workers a spec asks for (`workers`, default 1). */
export function wantedWorkers(spec: TaskSpec | undefined): number {
  return spec?.workers ?? 1;
}

/** The task definition a worker builds from a resource named `name` carrying `spec`. */
export function taskDefinitionFromSpec(name: string, spec: TaskSpec): TaskDefinition {
  if (isDeclarativeTaskSpec(spec)) return declarativeTaskDefinition(name, spec);
  return {
    name,
    rule: spec.rule,
    url: spec.url,
    waitTime: spec.waitTime,
    maxDepth: spec.maxDepth,
    reload: spec.reload,
    cookie: spec.cookie,
    limits: spec.limits?.map((l) => ({ ...l })),
    ...(spec.fetcher && { fetcher: spec.fetcher }),
    ...withPoliteness(politenessFromSpec(spec)),
  };
}
