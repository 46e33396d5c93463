/**
 * @module
 * How a cluster worker turns a resource into a task: the resource's own `Spec` if it has one,
 * else the preset of that name in this worker's config, else the built-in rule set of that name;
 * a task that renders pages needs Chromium on this worker. The wire's `TaskSpec` becomes an
 * engine task definition here, and only here.
 */
import type { Config } from "../config/config_schema.ts";
import { taskDefinitionFromConfig } from "../config/task_config.ts";
import type { ResourceSpec } from "../proto/resource_spec.ts";
import type { TaskSpec } from "../proto/task_spec.ts";
import type { RuleSet } from "../spider/rule_set.ts";
import type { Task } from "../spider/task.ts";
import { buildTask, type TaskDefinition } from "../spider/task_definition.ts";
import { chromiumPath, requireBrowserFor } from "../spider/browser/chromium_binary.ts";
import {
  declarativeTaskDefinition,
  isDeclarativeTaskSpec,
} from "../spider/declarative/declarative_task_spec.ts";
import { politenessFromSpec, withPoliteness } from "../spider/politeness/politeness_spec.ts";
import { taskRecrawlPolicy } from "../spider/recrawl_spec.ts";

/**
 * Returns a resolver; it throws `UnknownRuleSetError` for a task this worker cannot run, and
 * `BrowserUnavailableError` for one that renders pages on a worker without Chromium.
 */
export function createTaskResolver(
  config: Config,
  ruleSets: ReadonlyMap<string, RuleSet>,
): (resource: ResourceSpec) => Task {
  const presets = new Map(config.Tasks.map((t) => [t.Name, t]));
  const resolve = (resource: ResourceSpec): Task => {
    if (resource.Spec) {
      return buildTask(taskDefinitionFromSpec(resource.Name, resource.Spec), ruleSets);
    }
    const preset = presets.get(resource.Name);
    if (preset) return buildTask(taskDefinitionFromConfig(preset), ruleSets);
    return buildTask({ name: resource.Name }, ruleSets);
  };
  return (resource) => {
    const task = resolve(resource);
    requireBrowserFor(task, chromiumPath(config.browser.executablePath));
    return task;
  };
}

/**
 * The task definition a worker builds from a resource named `name` carrying `spec` (an API
 * task spec: a built-in rule set by name, or a declarative rule set).
 *
 * @example
 * ```ts
 * const definition = taskDefinitionFromSpec("books", { rule: "douban_book_list", maxDepth: 2 });
 * const task = buildTask(definition, ruleSets);
 * ```
 */
export function taskDefinitionFromSpec(name: string, spec: TaskSpec): TaskDefinition {
  if (isDeclarativeTaskSpec(spec)) return declarativeTaskDefinition(name, spec);
  const recrawl = taskRecrawlPolicy(spec.recrawl);
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
    ...(recrawl && { recrawl }),
    ...withPoliteness(politenessFromSpec(spec)),
  };
}
