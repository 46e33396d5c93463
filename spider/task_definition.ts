/**
 * @module
 * A task as a user defines it (a config `Tasks` entry or an API `spec`), and how it becomes
 * a runnable `Task`: its rule set's defaults, overridden by what the user set.
 */
import type { RuleSet } from "./rule_set.ts";
import type { Task } from "./task.ts";
import type { LimitSpec } from "./limit_spec.ts";
import type { TaskPolitenessOverrides } from "./task_options.ts";
import type { FetcherKind } from "./browser/render_options.ts";
import type { RecrawlPolicy } from "./recrawl.ts";

export interface TaskDefinition {
  name: string;
  /** The rule set to run; default: `name`. */
  rule?: string;
  /**
   * A rule set defined with the task (a compiled declarative spec); when set, it runs instead of
   * looking `rule` up among the available rule sets.
   */
  ruleSet?: RuleSet;
  /** The base URL the rule set starts from; default: the rule set's own. */
  url?: string;
  waitTime?: number;
  reload?: boolean;
  maxDepth?: number;
  cookie?: string;
  limits?: LimitSpec[];
  politeness?: TaskPolitenessOverrides;
  /** `"browser"` renders every page in Chromium; default HTTP. */
  fetcher?: FetcherKind;
  /** Fetch every page again once its interval has passed; default each page once. */
  recrawl?: RecrawlPolicy;
}

/** No rule set of that name: the task cannot run here. */
export class UnknownRuleSetError extends Error {
  constructor(readonly ruleSet: string, readonly task: string) {
    super(
      ruleSet === task
        ? `unknown task "${task}": no built-in rule set or preset of that name`
        : `task "${task}": unknown rule set "${ruleSet}"`,
    );
    this.name = "UnknownRuleSetError";
  }
}

const DEFAULT_MAX_DEPTH = 5;

/**
 * Resolves a definition against the available rule sets (or takes its own `ruleSet`). Throws
 * `UnknownRuleSetError`.
 */
export function buildTask(def: TaskDefinition, ruleSets: ReadonlyMap<string, RuleSet>): Task {
  const ruleName = def.rule ?? def.name;
  const ruleSet = def.ruleSet ?? ruleSets.get(ruleName);
  if (!ruleSet) throw new UnknownRuleSetError(ruleName, def.name);
  const d = ruleSet.defaults;
  return {
    ruleSet,
    options: {
      name: def.name,
      url: def.url ?? d.url,
      cookie: def.cookie ?? d.cookie,
      waitTime: def.waitTime ?? d.waitTime ?? 0,
      reload: def.reload ?? d.reload ?? false,
      maxDepth: def.maxDepth ?? d.maxDepth ?? DEFAULT_MAX_DEPTH,
      limits: def.limits ?? d.limits ?? [],
      ...(def.politeness && { politeness: def.politeness }),
      ...(def.fetcher && { fetcher: def.fetcher }),
      ...(def.recrawl && { recrawl: def.recrawl }),
    },
  };
}
