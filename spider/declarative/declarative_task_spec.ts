/**
 * @module
 * A declarative rule set in an API `spec` (docs/http-api.md, "Adding a task"): the rule set's
 * fields plus the task options a built-in spec has, and how a worker turns it into a task
 * definition.
 *
 * The API's `TaskSpec` accepts it beside the built-in form with {@linkcode withDeclarativeSpec}:
 * `taskSpecSchema = withDeclarativeSpec(builtinTaskSpecSchema)`.
 */
import { z } from "zod";
import type { TaskDefinition } from "../task_definition.ts";
import { limitSpecSchema } from "../limit_spec.ts";
import { compileRuleSet } from "./compile_rule_set.ts";
import { checkRuleReferences, declarativeSpecShape, startUrlOf } from "./spec_schema.ts";
import {
  politenessFromSpec,
  politenessSpecShape,
  withPoliteness,
} from "../politeness/politeness_spec.ts";
import { addRecrawlIssues, recrawlSpecSchema, taskRecrawlPolicy } from "../recrawl_spec.ts";

/**
 * A task defined by a declarative rule set: `{rules, roots?, parseTimeoutMs?}` plus the options
 * of a built-in spec (`url`, `waitTime`, `maxDepth`, `reload`, `cookie`, `limits`, `recrawl`,
 * ...). A rule's `recrawl` is checked over the task's. `url` is
 * required unless the spec's roots and sitemap `urls` are all absolute URLs (see `startUrlOf`).
 * Unknown keys are rejected.
 */
export const declarativeTaskSpecSchema = z.strictObject({
  ...declarativeSpecShape,
  url: z.url().optional(),
  waitTime: z.number().nonnegative().optional(),
  maxDepth: z.number().int().nonnegative().optional(),
  reload: z.boolean().optional(),
  cookie: z.string().optional(),
  limits: z.array(limitSpecSchema).optional(),
  /**
   * How many workers run the task together (docs/operating.md, "Crawl with several workers"); the
   * master checks it. Default 1.
   */
  workers: z.number().int().min(1).max(64).optional(),
  /** `"browser"` renders every page in Chromium before it is parsed. Default `"http"`. */
  fetcher: z.enum(["http", "browser"]).optional(),
  /** Fetch every page again once its interval has passed (docs/http-api.md, "recrawl"). */
  recrawl: recrawlSpecSchema.optional(),
  ...politenessSpecShape,
}).superRefine((spec, ctx) => {
  checkRuleReferences(spec, ctx);
  addRecrawlIssues(ctx, spec.recrawl, spec.rules, { taskPath: ["recrawl"], rulesPath: ["rules"] });
  if (spec.url === undefined && startUrlOf(spec) === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["url"],
      message: "required: the spec has no absolute root or sitemap url to start from",
    });
  }
});

/** A declarative task spec (see {@linkcode declarativeTaskSpecSchema}). */
export type DeclarativeTaskSpec = z.infer<typeof declarativeTaskSpecSchema>;

/** True for a spec carrying a declarative rule set (it has `rules`) rather than a `rule` name. */
export function isDeclarativeTaskSpec(spec: object): spec is DeclarativeTaskSpec {
  return Object.hasOwn(spec, "rules");
}

/**
 * A spec schema accepting `builtin` or a declarative spec, chosen by whether the value has
 * `rules`. Unlike `z.union`, whose failure is one "Invalid input" for the whole spec, errors
 * name the field of the form the caller meant: `spec.rules.page.links[0].regex: …`.
 *
 * @example
 * ```ts
 * export const taskSpecSchema = withDeclarativeSpec(builtinTaskSpecSchema);
 * ```
 */
export function withDeclarativeSpec<B extends z.ZodType>(
  builtin: B,
): z.ZodType<z.output<B> | DeclarativeTaskSpec> {
  return z.custom<unknown>((value) => typeof value === "object" && value !== null, {
    message: "expected an object",
  }).transform((value, ctx) => {
    const schema = isDeclarativeTaskSpec(value as object) ? declarativeTaskSpecSchema : builtin;
    const result = schema.safeParse(value);
    if (result.success) return result.data as z.output<B> | DeclarativeTaskSpec;
    // The issues pass through as they are, so callers can tell "required" from "wrong type".
    for (const issue of result.error.issues) {
      ctx.addIssue(issue as Parameters<typeof ctx.addIssue>[0]);
    }
    return z.NEVER;
  }) as unknown as z.ZodType<z.output<B> | DeclarativeTaskSpec>;
}

/**
 * The task definition a worker builds from a resource named `name` carrying a declarative spec:
 * the compiled rule set and the spec's options. Its rules' `recrawl` build on the task's.
 */
export function declarativeTaskDefinition(name: string, spec: DeclarativeTaskSpec): TaskDefinition {
  const { url, waitTime, maxDepth, reload, cookie, limits, roots, rules, parseTimeoutMs, fetcher } =
    spec;
  const { sitemaps } = spec;
  const recrawl = taskRecrawlPolicy(spec.recrawl);
  return {
    name,
    ruleSet: compileRuleSet(name, { roots, rules, parseTimeoutMs, sitemaps }, { recrawl }),
    url,
    waitTime,
    maxDepth,
    reload,
    cookie,
    limits: limits?.map((l) => ({ ...l })),
    ...(fetcher && { fetcher }),
    ...(recrawl && { recrawl }),
    ...withPoliteness(politenessFromSpec(spec)),
  };
}
