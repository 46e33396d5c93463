/**
 * @module
 * `TaskSpec` (docs/http-api.md, "Adding a task"): a task defined when it is added through the API,
 * instead of by preset name. It travels in the add request and is stored as the resource's `Spec`,
 * so the worker the task lands on can build it without knowing it in advance
 * (`worker/task_resolver.ts` turns it into a task definition; this module only describes the wire
 * format).
 */
import { z } from "zod";
import {
  isDeclarativeTaskSpec,
  withDeclarativeSpec,
} from "../spider/declarative/declarative_task_spec.ts";
import { politenessSpecShape } from "../spider/politeness/politeness_spec.ts";
import { limitSpecSchema } from "../spider/limit_spec.ts";
import { recrawlIssues, recrawlSpecSchema } from "../spider/recrawl_spec.ts";

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
  /**
   * How many workers run the task together from its shared frontier (docs/operating.md, "Crawl with
   * several workers"). Default 1.
   */
  workers: workersSchema.optional(),
  /** `"browser"` renders every page in Chromium before the rules parse it. Default `"http"`. */
  fetcher: z.enum(["http", "browser"]).optional(),
  /**
   * Fetch every page again once its interval has passed: `{interval, min, max, adaptive}`
   * (docs/http-api.md). Default: each page once.
   */
  recrawl: recrawlSpecSchema.superRefine((recrawl, ctx) => {
    for (const { key, message } of recrawlIssues(recrawl)) {
      ctx.addIssue({ code: "custom", path: [key], message });
    }
  }).optional(),
  ...politenessSpecShape,
});

/**
 * Every accepted spec shape: a built-in rule set by name (`rule`), or a declarative rule set
 * (`rules`, docs/rules.md, "Declarative rule sets"). A dispatcher rather than `z.union`, so errors
 * name the field that is wrong.
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
