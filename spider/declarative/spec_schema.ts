/**
 * @module
 * The declarative rule set (docs/rules.md, "Declarative rule sets"): roots and named rules written
 * as data, checked with zod. Everything that could fail while crawling is checked here, before
 * anything runs: every rule a root or link names exists, selectors parse, regular expressions
 * compile and have the capture group that is read. Errors name the key, e.g.
 * `rules.list.links[0].selector: invalid selector "a[href": …`.
 *
 * The parsed value is plain JSON (no defaults filled in, nothing compiled), so it can be stored
 * in etcd and sent over gRPC as it came; `compileRuleSet` turns it into a runnable `RuleSet`.
 */
import { z } from "zod";
import { patternError } from "./_pattern.ts";
import { selectorError } from "./_selector.ts";
import { WAIT_UNTIL_VALUES } from "../browser/render_options.ts";
import { sitemapsSpecSchema } from "./sitemap_spec.ts";
import { recrawlSpecSchema } from "../recrawl_spec.ts";

/** Columns every results table already has; a field may not take their names. */
const RESERVED_FIELDS = new Set(["id", "item_key", "rule", "url", "time"]);

const MAX_PATTERN_LENGTH = 2000;

const ruleNameSchema = z.string().min(1).max(100);

const selectorSchema = z.string().max(MAX_PATTERN_LENGTH).superRefine((selector, ctx) => {
  const error = selectorError(selector);
  if (error) ctx.addIssue({ code: "custom", message: error });
});

/** A regular expression (JavaScript syntax) with at least `groups` capture groups. */
function patternSchema(groups: number) {
  return z.string().min(1).max(MAX_PATTERN_LENGTH).superRefine((source, ctx) => {
    const error = patternError(source, { groups });
    if (error) ctx.addIssue({ code: "custom", message: error });
  });
}

/**
 * Links to follow: every `selector` match's `attr` (default `a[href]` and `href`), or group 1 of
 * every `regex` match in the raw HTML; resolved against the page URL, deduplicated per page.
 */
export const linkSpecSchema = z.strictObject({
  selector: selectorSchema.optional(),
  regex: patternSchema(1).optional(),
  attr: z.string().min(1).max(100).optional(),
  /** The rule that parses the linked pages. */
  rule: ruleNameSchema,
  /** Only links to the host of the page they are on. Default false. */
  sameHost: z.boolean().optional(),
  /** Only links whose absolute URL matches this regular expression. */
  match: patternSchema(0).optional(),
  /** Requests with priority > 0 are fetched first. Default 0. */
  priority: z.number().int().nonnegative().max(1_000_000).optional(),
}).superRefine((link, ctx) => {
  if (link.selector !== undefined && link.regex !== undefined) {
    ctx.addIssue({ code: "custom", path: ["regex"], message: "give selector or regex, not both" });
  }
  if (link.attr !== undefined && link.regex !== undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["attr"],
      message: "attr applies to selector links only",
    });
  }
});

/**
 * One output field. `selector` picks the first matching element (inside the item element when
 * the output has `each`); its `attr` is read, or else its text (whitespace collapsed). Without
 * `selector`, `attr` reads the item element's attribute and `regex` reads the raw HTML (the
 * page's, or the item element's). `regex` then keeps group 1 of its first match. A value not
 * found is null.
 */
export const fieldSpecSchema = z.strictObject({
  selector: selectorSchema.optional(),
  attr: z.string().min(1).max(100).optional(),
  regex: patternSchema(1).optional(),
});

/**
 * What a rule outputs: one item per page, or one per element matching `each`; only for pages
 * whose body matches `pageMatches` and whose URL matches `urlMatches`. An item with no fields is
 * the page URL (the Go project's `OutputJS`): every row has `url` and `time`.
 */
export const outputSpecSchema = z.strictObject({
  /** One item per element matching this selector, instead of one per page. */
  each: selectorSchema.optional(),
  /** Field name → how to read it; a column each in SQL. Default: none. */
  fields: z.record(z.string(), fieldSpecSchema).optional(),
  /** Output only when the page body matches this regular expression. */
  pageMatches: patternSchema(0).optional(),
  /** Output only when the page URL matches this regular expression. */
  urlMatches: patternSchema(0).optional(),
  /**
   * A field whose value identifies an item wherever it is found: stored once per value.
   * Default: an item is identified by its page URL and position on the page.
   */
  key: z.string().optional(),
}).superRefine((output, ctx) => {
  if (output.key !== undefined && !Object.hasOwn(output.fields ?? {}, output.key)) {
    ctx.addIssue({
      code: "custom",
      path: ["key"],
      message: `"${output.key}" is not a field of this output`,
    });
  }
  const seen = new Set<string>();
  for (const [name, field] of Object.entries(output.fields ?? {})) {
    const path = ["fields", name];
    const folded = name.toLowerCase();
    if (name.trim() === "" || name.length > 100) {
      ctx.addIssue({ code: "custom", path, message: "a field name has 1 to 100 characters" });
    } else if (RESERVED_FIELDS.has(folded)) {
      ctx.addIssue({
        code: "custom",
        path,
        message: `"${name}" is a column of every results table (id, item_key, rule, url, time)`,
      });
    } else if (seen.has(folded)) {
      // SQLite column names ignore case, so these two would be one column.
      ctx.addIssue({ code: "custom", path, message: `"${name}" repeats a field name` });
    }
    seen.add(folded);
    if (output.each === undefined && field.selector === undefined) {
      if (field.attr !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: [...path, "attr"],
          message: "attr needs a selector (or an each element) to read from",
        });
      } else if (field.regex === undefined) {
        ctx.addIssue({ code: "custom", path, message: "a field needs a selector or a regex" });
      }
    }
  }
});

/**
 * The rule's pages are rendered in a browser before they are parsed: read once `waitUntil`
 * (default `networkidle`: no request in flight for a moment after `load`) and, with `waitFor`,
 * once that CSS selector matches. `{}` renders with the defaults.
 */
export const renderSpecSchema = z.strictObject({
  waitFor: selectorSchema.optional(),
  waitUntil: z.enum(WAIT_UNTIL_VALUES).optional(),
});

/**
 * A rule: the links it follows, what it outputs, whether its pages are rendered first, and how
 * often they are fetched again (`recrawl`, over the task's; its values are checked against the
 * task's where both are known: `addRecrawlIssues`).
 */
export const ruleSpecSchema = z.strictObject({
  links: z.array(linkSpecSchema).max(100).optional(),
  output: outputSpecSchema.optional(),
  render: renderSpecSchema.optional(),
  recrawl: recrawlSpecSchema.optional(),
});

/** A first request: `url` (default the task's URL; relative ones resolve against it) and its rule. */
export const rootSpecSchema = z.strictObject({
  url: z.string().min(1).max(MAX_PATTERN_LENGTH).optional(),
  rule: ruleNameSchema,
  priority: z.number().int().nonnegative().max(1_000_000).optional(),
}).superRefine((root, ctx) => {
  if (root.url === undefined) return;
  let url: URL;
  try {
    url = new URL(root.url, "http://relative.invalid/");
  } catch {
    ctx.addIssue({ code: "custom", path: ["url"], message: `invalid URL "${root.url}"` });
    return;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    ctx.addIssue({ code: "custom", path: ["url"], message: "expected an http(s) URL" });
  }
});

/** The fields of a declarative rule set; task options join them in the API's spec. */
export const declarativeSpecShape = {
  /** First requests. Default: the task's URL, parsed by the first rule. */
  roots: z.array(rootSpecSchema).min(1).max(100).optional(),
  /** Rule name → rule. */
  rules: z.record(ruleNameSchema, ruleSpecSchema),
  /** Longest a rule may parse one page, ms; then it is stopped and the page counts as failed. */
  parseTimeoutMs: z.number().int().positive().max(600_000).optional(),
  /** Sitemap files and feeds whose page URLs are crawled by a rule (see `sitemap_spec.ts`). */
  sitemaps: sitemapsSpecSchema.optional(),
};

/** The declarative rule set of a config `Tasks` entry's `Spec`. */
export const declarativeSpecSchema = z.strictObject(declarativeSpecShape).superRefine(
  checkRuleReferences,
);

/** A declarative rule set as written (see {@linkcode declarativeSpecSchema}). */
export type DeclarativeSpec = z.infer<typeof declarativeSpecSchema>;
export type RuleSpec = z.infer<typeof ruleSpecSchema>;
export type LinkSpec = z.infer<typeof linkSpecSchema>;
export type FieldSpec = z.infer<typeof fieldSpecSchema>;
export type OutputSpec = z.infer<typeof outputSpecSchema>;
export type RootSpec = z.infer<typeof rootSpecSchema>;
export type RenderSpec = z.infer<typeof renderSpecSchema>;

/** Every rule a root or a link names must exist; at least one rule must. */
export function checkRuleReferences(
  spec: Pick<DeclarativeSpec, "roots" | "rules" | "sitemaps">,
  ctx: z.RefinementCtx,
): void {
  const names = Object.keys(spec.rules);
  if (names.length === 0) {
    ctx.addIssue({ code: "custom", path: ["rules"], message: "needs at least one rule" });
    return;
  }
  const unknown = (name: string) =>
    `unknown rule "${name}" (rules: ${names.map((n) => JSON.stringify(n)).join(", ")})`;
  spec.roots?.forEach((root, i) => {
    if (!Object.hasOwn(spec.rules, root.rule)) {
      ctx.addIssue({ code: "custom", path: ["roots", i, "rule"], message: unknown(root.rule) });
    }
  });
  if (spec.sitemaps && !Object.hasOwn(spec.rules, spec.sitemaps.rule)) {
    ctx.addIssue({
      code: "custom",
      path: ["sitemaps", "rule"],
      message: unknown(spec.sitemaps.rule),
    });
  }
  for (const [name, rule] of Object.entries(spec.rules)) {
    if (spec.sitemaps && name.startsWith("__sitemap")) {
      ctx.addIssue({
        code: "custom",
        path: ["rules", name],
        message: "rule names starting with __sitemap are the sitemap reader's",
      });
    }
    rule.links?.forEach((link, i) => {
      if (!Object.hasOwn(spec.rules, link.rule)) {
        ctx.addIssue({
          code: "custom",
          path: ["rules", name, "links", i, "rule"],
          message: unknown(link.rule),
        });
      }
    });
  }
}

/**
 * The URL a spec starts from when it needs no task URL: the first of its sources, when they are
 * all absolute URLs — its roots, and its sitemaps' `urls`. Undefined when it needs the task's
 * URL: a root without an absolute URL, sitemaps without `urls` (read from the task host's
 * robots.txt), or neither roots nor sitemaps (the task URL is parsed by the first rule).
 *
 * @example
 * ```ts
 * startUrlOf({ sitemaps: { rule: "page", urls: ["https://a.test/sitemap.xml"] } });
 * // "https://a.test/sitemap.xml"
 * ```
 */
export function startUrlOf(
  spec: Pick<DeclarativeSpec, "roots" | "sitemaps">,
): string | undefined {
  if (spec.roots === undefined && spec.sitemaps === undefined) return undefined;
  if (spec.sitemaps !== undefined && spec.sitemaps.urls === undefined) return undefined;
  const sources = [...(spec.roots ?? []).map((root) => root.url), ...(spec.sitemaps?.urls ?? [])];
  for (const url of sources) {
    if (url === undefined || !URL.canParse(url)) return undefined;
  }
  return sources[0];
}
