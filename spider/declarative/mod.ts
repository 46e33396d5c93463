/**
 * @module
 * Declarative rule sets (docs/rules.md, "Declarative rule sets"): rules written as data, in a
 * config `Spec` or an API `spec`, compiled to a `RuleSet` the engine runs like a built-in one,
 * parsed in workers with a time limit per page.
 */
export {
  type DeclarativeSpec,
  declarativeSpecSchema,
  type FieldSpec,
  type LinkSpec,
  type OutputSpec,
  type RootSpec,
  type RuleSpec,
} from "./spec_schema.ts";
export { compileRuleSet } from "./compile_rule_set.ts";
export { DeclarativeRule, type ParseJob } from "./declarative_rule.ts";
export { type PageOutput, type RulePath, RuleProgram } from "./rule_program.ts";
export { ParsePool, type ParsePoolOptions, ParseTimeoutError } from "./parse_pool.ts";
export {
  declarativeTaskDefinition,
  type DeclarativeTaskSpec,
  declarativeTaskSpecSchema,
  isDeclarativeTaskSpec,
  withDeclarativeSpec,
} from "./declarative_task_spec.ts";
