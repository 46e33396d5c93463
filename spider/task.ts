/**
 * @module
 * A task: a rule set run with resolved options, ready to start on the engine.
 */
import type { RuleSet } from "./rule_set.ts";
import type { TaskOptions } from "./task_options.ts";

export interface Task {
  options: TaskOptions;
  ruleSet: RuleSet;
}
