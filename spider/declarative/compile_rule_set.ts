/**
 * @module
 * Turns a declarative spec into a `RuleSet` the engine runs like a built-in one.
 */
import type { RequestInit } from "../../frontier/crawl_request.ts";
import type { Rule, RuleSet } from "../rule_set.ts";
import type { RenderOptions } from "../browser/render_options.ts";
import type { RecrawlPolicy } from "../recrawl.ts";
import { ruleRecrawlPolicies } from "../recrawl_spec.ts";
import { sitemapRoots, sitemapRules } from "../sitemap/sitemap_rules.ts";
import { DeclarativeRule } from "./declarative_rule.ts";
import { compilePrograms, type RulePath } from "./rule_program.ts";
import { type DeclarativeSpec, declarativeSpecSchema, startUrlOf } from "./spec_schema.ts";
import { formatIssues } from "./_issues.ts";

/**
 * Compiles a declarative rule set named `name`. Its roots start from the task's URL (relative
 * root URLs resolve against it); without `roots`, the task's URL is parsed by the first rule.
 *
 * `parsePaths` tells, per rule, whether its selectors stream or need linkedom's DOM (and why);
 * `render` lists the rules whose pages are rendered in a browser first (a rule's `render`);
 * `recrawl` the policies of rules with their own `recrawl`, over `options.recrawl` (the task's).
 * The `fingerprint` leaves the rules' `recrawl` out: a new interval is no reason to start the
 * crawl over.
 *
 * The spec is checked again here, so a spec that did not come through
 * {@linkcode declarativeSpecSchema} fails now rather than mid-crawl: a `TypeError` naming the
 * first bad keys.
 *
 * @example
 * ```ts
 * const ruleSet = compileRuleSet("site", {
 *   rules: {
 *     page: {
 *       links: [{ rule: "page", sameHost: true }],
 *       output: { fields: { title: { regex: "<title>([^<]*)</title>" } } },
 *     },
 *   },
 * });
 * crawler.start(buildTask({ name: "site", url: "http://127.0.0.1:8080/", ruleSet }, new Map()));
 * ```
 */
export function compileRuleSet(
  name: string,
  spec: DeclarativeSpec,
  options: CompileOptions = {},
): RuleSet {
  const checked = declarativeSpecSchema.safeParse(spec);
  if (!checked.success) {
    throw new TypeError(`invalid declarative spec for "${name}": ${formatIssues(checked.error)}`);
  }
  let recrawl: Record<string, RecrawlPolicy> | undefined;
  try {
    recrawl = ruleRecrawlPolicies(spec.rules, options.recrawl);
  } catch (error) {
    throw new TypeError(`invalid declarative spec for "${name}": ${(error as Error).message}`, {
      cause: error,
    });
  }
  const programs = compilePrograms(spec);
  const json = JSON.stringify(withoutRecrawl(spec));
  const rules: Record<string, Rule> = spec.sitemaps ? sitemapRules(spec.sitemaps) : {};
  const parsePaths: Record<string, RulePath> = {};
  const render: Record<string, RenderOptions> = {};
  for (const [ruleName, program] of programs) {
    parsePaths[ruleName] = program.path;
    const rendered = spec.rules[ruleName]?.render;
    if (rendered) render[ruleName] = { ...rendered };
    rules[ruleName] = new DeclarativeRule({
      spec: json,
      name: ruleName,
      program,
      timeoutMs: spec.parseTimeoutMs,
    });
  }
  // With sitemaps, they are the sources: the task's URL is parsed by a rule only if a root says.
  const roots = spec.roots ?? (spec.sitemaps ? [] : [{ rule: programs.keys().next().value! }]);
  return {
    name,
    defaults: { url: startUrlOf(spec) ?? "" },
    root: ({ url }): RequestInit[] => [
      ...roots.map((root) => ({
        url: root.url === undefined ? url : new URL(root.url, url).href,
        ruleName: root.rule,
        priority: root.priority ?? 0,
        method: "GET",
      })),
      ...(spec.sitemaps ? sitemapRoots(spec.sitemaps, url) : []),
    ],
    rules,
    parsePaths,
    ...(Object.keys(render).length > 0 && { render }),
    ...(recrawl && { recrawl }),
    fingerprint: json,
  };
}

/** Options of {@linkcode compileRuleSet}. */
export interface CompileOptions {
  /** The task's recrawl policy, which the rules' own `recrawl` build on. Default: none. */
  recrawl?: RecrawlPolicy;
}

/** The spec without its rules' `recrawl`: what the parse workers compile and the fingerprint. */
function withoutRecrawl(spec: DeclarativeSpec): DeclarativeSpec {
  const rules = Object.entries(spec.rules);
  if (!rules.some(([, rule]) => rule.recrawl !== undefined)) return spec;
  return {
    ...spec,
    rules: Object.fromEntries(rules.map(([ruleName, { recrawl: _, ...rule }]) => [ruleName, rule])),
  };
}
