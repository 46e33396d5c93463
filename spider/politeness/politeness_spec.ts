/**
 * @module
 * A task's politeness settings as written in an API `spec` (`robots`, `politeness`,
 * `randomUserAgent`) and in a config `Tasks` entry (`Robots`, `Politeness`, `RandomUserAgent`).
 */
import { z } from "zod";
import type { TaskPolitenessOverrides } from "../task_options.ts";

const delayMs = z.number().int().nonnegative().max(3_600_000);
const perHostConcurrency = z.number().int().positive().max(1024);

/** The spec fields, spread into the built-in and declarative spec schemas. */
export const politenessSpecShape = {
  /** Obey robots.txt; default true. */
  robots: z.boolean().optional(),
  politeness: z.strictObject({
    delayMs: delayMs.optional(),
    perHostConcurrency: perHostConcurrency.optional(),
  }).optional(),
  /** Send a random desktop browser User-Agent (the Go project's behaviour) instead of ours. */
  randomUserAgent: z.boolean().optional(),
};

/** The config `Tasks` fields (the Go project's capitalised style). */
export const politenessTaskConfigShape = {
  Robots: z.boolean().optional(),
  Politeness: z.strictObject({
    DelayMs: delayMs.optional(),
    PerHostConcurrency: perHostConcurrency.optional(),
  }).optional(),
  RandomUserAgent: z.boolean().optional(),
};

type SpecFields = z.infer<z.ZodObject<typeof politenessSpecShape>>;
type TaskConfigFields = z.infer<z.ZodObject<typeof politenessTaskConfigShape>>;

/** The overrides an API spec sets. */
export function politenessFromSpec(spec: SpecFields): TaskPolitenessOverrides | undefined {
  return unlessEmpty({
    robots: spec.robots,
    delayMs: spec.politeness?.delayMs,
    perHostConcurrency: spec.politeness?.perHostConcurrency,
    randomUserAgent: spec.randomUserAgent,
  });
}

/** The overrides a config `Tasks` entry sets. */
export function politenessFromTaskConfig(
  task: TaskConfigFields,
): TaskPolitenessOverrides | undefined {
  return unlessEmpty({
    robots: task.Robots,
    delayMs: task.Politeness?.DelayMs,
    perHostConcurrency: task.Politeness?.PerHostConcurrency,
    randomUserAgent: task.RandomUserAgent,
  });
}

/** `undefined` when nothing is set, so a task without politeness keys looks as it did. */
function unlessEmpty(o: TaskPolitenessOverrides): TaskPolitenessOverrides | undefined {
  return Object.values(o).some((v) => v !== undefined) ? o : undefined;
}

/** `{politeness}` to spread into a task definition, or nothing when no override is set. */
export function withPoliteness(
  politeness: TaskPolitenessOverrides | undefined,
): { politeness?: TaskPolitenessOverrides } {
  return politeness ? { politeness } : {};
}
