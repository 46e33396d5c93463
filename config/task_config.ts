/**
 * @module
 * Turns the config's `Tasks` entries (the Go project's field names) into task definitions.
 */
import type { TaskConfig } from "./config_schema.ts";
import type { TaskDefinition } from "../spider/task_definition.ts";
import { compileRuleSet } from "../spider/declarative/compile_rule_set.ts";
import { politenessFromTaskConfig, withPoliteness } from "../spider/politeness/politeness_spec.ts";
import { fetcherKindOf } from "../spider/browser/render_options.ts";
import { recrawlSpecFromConfig, taskRecrawlPolicy } from "../spider/recrawl_spec.ts";

/**
 * The definition of a `Tasks` entry; its `Spec` (already checked by the schema) is compiled, its
 * rules' `recrawl` over the task's `Recrawl`.
 */
export function taskDefinitionFromConfig(task: TaskConfig): TaskDefinition {
  const recrawl = taskRecrawlPolicy(task.Recrawl && recrawlSpecFromConfig(task.Recrawl));
  return {
    name: task.Name,
    rule: task.Rule,
    ruleSet: task.Spec ? compileRuleSet(task.Name, task.Spec, { recrawl }) : undefined,
    url: task.URL,
    waitTime: task.WaitTime,
    reload: task.Reload,
    maxDepth: task.MaxDepth,
    cookie: task.Cookie,
    limits: task.Limits?.map((l) => ({
      eventCount: l.EventCount,
      eventDur: l.EventDur,
      bucket: l.Bucket,
    })),
    ...(task.Fetcher !== undefined && { fetcher: fetcherKindOf(task.Fetcher) }),
    ...(recrawl && { recrawl }),
    ...withPoliteness(politenessFromTaskConfig(task)),
  };
}
