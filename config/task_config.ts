/**
 * @module
 * Turns the config's `Tasks` entries (the Go project's field names) into task definitions.
 */
import type { TaskConfig } from "./config_schema.ts";
import type { TaskDefinition } from "../spider/task_definition.ts";
import { compileRuleSet } from "../spider/declarative/compile_rule_set.ts";
import { politenessFromTaskConfig, withPoliteness } from "../spider/politeness/politeness_spec.ts";
import { fetcherKindOf } from "../spider/browser/render_options.ts";

/** The definition of a `Tasks` entry; its `Spec` (already checked by the schema) is compiled. */
export function taskDefinitionFromConfig(task: TaskConfig): TaskDefinition {
  return {
    name: task.Name,
    rule: task.Rule,
    ruleSet: task.Spec ? compileRuleSet(task.Name, task.Spec) : undefined,
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
    ...withPoliteness(politenessFromTaskConfig(task)),
  };
}
