/**
 * @module
 * A rule of a compiled declarative rule set, as the engine runs it: on the main thread through
 * `parse`, or, given a `ParsePool`, in a parse worker that can be stopped when it takes too long.
 */
import type { ParseContext } from "../parse_context.ts";
import type { CrawlRequest } from "../../frontier/crawl_request.ts";
import type { ParseResult, Rule } from "../rule_set.ts";
import type { PageOutput, RuleProgram } from "./rule_program.ts";

/** What a parse worker needs to run one rule of a declarative rule set on one page. */
export interface ParseJob {
  /** The rule set's spec as JSON: the worker compiles it once and caches it by this text. */
  spec: string;
  rule: string;
  /** The page's text, unless it is sent undecoded as `raw`. */
  body?: string;
  /** The page's bytes as fetched, decoded by the worker (so this thread need not). */
  raw?: Uint8Array;
  /** With `raw`: the response's content type, for the charset. */
  contentType?: string | null;
  /** The URL links resolve against (the response's, after redirects). */
  url: string;
  /** False to skip links: the engine would drop them all as deeper than `maxDepth`. */
  followLinks?: boolean;
  /**
   * The task run the page belongs to, when the run drops visited URLs: the worker then leaves
   * out links it already sent for this run, which the run's visited set has.
   */
  dedupeRun?: number;
}

/** What a {@linkcode DeclarativeRule} is made of. */
export interface DeclarativeRuleInit {
  /** The spec of the rule set it belongs to, as JSON (what a worker compiles). */
  spec: string;
  /** Its name in the rule set. */
  name: string;
  program: RuleProgram;
  /** The rule set's `parseTimeoutMs`, if it set one. */
  timeoutMs?: number;
}

/** A declarative rule; `ParsePool.parse` recognises it and runs it off the main thread. */
export class DeclarativeRule implements Rule {
  readonly spec: string;
  readonly name: string;
  readonly program: RuleProgram;
  readonly timeoutMs: number | undefined;
  readonly itemFields: readonly string[] | undefined;

  constructor(init: DeclarativeRuleInit) {
    this.spec = init.spec;
    this.name = init.name;
    this.program = init.program;
    this.timeoutMs = init.timeoutMs;
    this.itemFields = init.program.itemFields;
  }

  /** Runs the rule on this thread: no time limit (synchronous code cannot be interrupted). */
  parse(ctx: ParseContext): ParseResult {
    return toParseResult(ctx, this.program.run(ctx), this.program.itemKey);
  }

  /** The job that runs this rule on `ctx`'s page in a worker. */
  job(ctx: ParseContext): ParseJob {
    const raw = ctx.undecoded();
    return raw
      ? {
        spec: this.spec,
        rule: this.name,
        raw: raw.raw,
        contentType: raw.contentType,
        url: ctx.url,
      }
      : { spec: this.spec, rule: this.name, body: ctx.body, url: ctx.url };
  }
}

/**
 * Turns what a rule found into the engine's requests (one level deeper) and items, keyed by
 * `keyField` when the rule names one (else by position on the page).
 */
export function toParseResult(
  ctx: ParseContext,
  output: PageOutput,
  keyField?: string,
): ParseResult {
  const depth = ctx.req.depth + 1;
  const requests: CrawlRequest[] = [];
  for (const { rule, priority, urls } of output.links) {
    for (const url of urls) {
      requests.push({ url, method: "GET", depth, priority, ruleName: rule, attempt: 0 });
    }
  }
  return { requests, items: output.items.map((data) => ctx.output(data, { keyField })) };
}
