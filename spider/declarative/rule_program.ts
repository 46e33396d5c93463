/**
 * @module
 * A declarative rule compiled for running: regular expressions built, selectors kept, and the
 * cheapest way to read each part chosen. It runs on the main thread (inside a `Rule`) or in a
 * parse worker, on anything that offers a body, a URL and a lazy DOM.
 */
import type { PageDocument, PageElement } from "../parse_context.ts";
import { decodeEntities, scanAnchorHrefs } from "./link_scan.ts";
import type { DeclarativeSpec, FieldSpec, LinkSpec, RuleSpec } from "./spec_schema.ts";
import { StreamQuery, type StreamQueryInit, type StreamResult } from "./stream_query.ts";
import { UrlResolver } from "./url_resolver.ts";
import type { SentLinks } from "./_sent_links.ts";
import { compileStreamSelector, type StreamSelector } from "./_stream_selector.ts";

/** What a rule reads of a page: a `ParseContext` is one. */
export interface PageSource {
  readonly body: string;
  /** The URL links resolve against. */
  readonly url: string;
  /** The page's DOM, built on first call and at most once per page. */
  document(): PageDocument;
  /**
   * The body decoded piece by piece, for a pass that may stop early: pieces it never asks for
   * are never decoded. Without it, the streaming engine reads `body`.
   */
  pieces?(): Iterable<string>;
}

/**
 * How a rule reads pages, for the task status: `scan` (regular expressions and the `a[href]`
 * scan only: no parsing), `stream` (its selectors run in one streaming pass, no tree) or `dom`
 * (linkedom builds the page's DOM; `reason` says which selector needs it and why).
 */
export interface RulePath {
  path: "scan" | "stream" | "dom";
  reason?: string;
}

/** Links a rule follows to the same rule, with the same priority: absolute URLs. */
export interface LinkGroup {
  rule: string;
  priority: number;
  urls: string[];
}

/**
 * What a rule found on a page. Plain data, and shaped to cross from a parse worker cheaply:
 * cloning an array of strings costs a tenth of cloning as many `{url, rule}` objects.
 */
export interface PageOutput {
  links: LinkGroup[];
  items: Array<Record<string, string | null>>;
}

/** Options for {@linkcode RuleProgram.run}. */
export interface RunOptions {
  /** Copy strings cut from the page, so results keep nothing else alive. Default true. */
  copyStrings?: boolean;
  /** Look for links. Default true. */
  followLinks?: boolean;
  /**
   * Links already sent for the task run: a link in it is left out, the others are added (a
   * parse worker passes its record for the run). Default: each URL once per rule and page.
   */
  sent?: SentLinks;
}

/** The link rule that needs no DOM: every `<a href>`, found by {@linkcode scanAnchorHrefs}. */
const ANCHOR_SELECTORS = new Set(["a[href]", "a"]);

interface LinkStep {
  /** `anchors`: the DOM-free scan; `selector`: a DOM query; `regex`: group 1 of each match. */
  kind: "anchors" | "selector" | "regex";
  selector: string;
  /** The selector compiled for the streaming pass, or why it cannot run there. */
  stream?: StreamSelector | string;
  attr: string;
  regex?: RegExp;
  rule: string;
  sameHost: boolean;
  match?: RegExp;
  priority: number;
}

interface FieldStep {
  name: string;
  selector?: string;
  stream?: StreamSelector | string;
  attr?: string;
  regex?: RegExp;
}

interface OutputStep {
  each?: string;
  eachStream?: StreamSelector | string;
  fields: FieldStep[];
  pageMatches?: RegExp;
  urlMatches?: RegExp;
}

/**
 * One compiled rule. Its selectors run in the streaming engine when they all can (see
 * `_stream_selector.ts` for the subset), else on linkedom's DOM; a rule that only follows
 * `a[href]` links and reads regular expressions parses nothing at all.
 */
export class RuleProgram {
  readonly #links: LinkStep[];
  readonly #output: OutputStep | undefined;
  /** True if running the rule builds the page's DOM (a selector outside the streaming subset). */
  readonly needsDocument: boolean;
  /** How the rule reads pages, and why when it needs the DOM. */
  readonly path: RulePath;
  /** The item fields, in spec order; undefined when the rule outputs nothing. */
  readonly itemFields: readonly string[] | undefined;
  /** Streaming queries by what a page needs (links, items), built on first use. */
  readonly #queries = new Map<number, StreamQuery | undefined>();
  /** The field that identifies an item (the output's `key`), if the rule names one. */
  readonly itemKey: string | undefined;

  constructor(spec: RuleSpec) {
    this.#links = (spec.links ?? []).map(compileLink);
    const output = spec.output;
    this.#output = output && {
      each: output.each,
      eachStream: output.each === undefined ? undefined : compileStreamSelector(output.each),
      fields: Object.entries(output.fields ?? {}).map(([name, field]) => compileField(name, field)),
      pageMatches: output.pageMatches === undefined ? undefined : new RegExp(output.pageMatches),
      urlMatches: output.urlMatches === undefined ? undefined : new RegExp(output.urlMatches),
    };
    this.itemFields = this.#output?.fields.map((f) => f.name);
    this.itemKey = output?.key;
    this.path = choosePath(this.#links, this.#output);
    this.needsDocument = this.path.path === "dom";
  }

  /**
   * Runs the rule on one page. Strings cut from the page are copied (see `ownString`) unless
   * `copyStrings` is false: a parse worker skips it, since posting its results copies them.
   * With `followLinks` false, links are not looked for.
   */
  run(page: PageSource, options: RunOptions = {}): PageOutput {
    const own = options.copyStrings === false ? keep : ownString;
    const followLinks = options.followLinks !== false;
    const output = this.#output;
    const wantItems = output !== undefined &&
      (!output.urlMatches || output.urlMatches.test(page.url)) &&
      (!output.pageMatches || output.pageMatches.test(page.body));
    let streamed: StreamResult | undefined;
    if (this.path.path === "stream") {
      const query = this.#query(followLinks, wantItems);
      const body = this.#readsBody(followLinks) ? page.body : page.pieces?.() ?? page.body;
      if (query) streamed = query.run(body);
    }
    return {
      links: followLinks ? this.#findLinks(page, own, options.sent, streamed) : [],
      items: wantItems ? this.#findItems(page, own, streamed) : [],
    };
  }

  /** True if the rule reads the whole body anyway (a regular expression or the anchor scan). */
  #readsBody(followLinks: boolean): boolean {
    if (followLinks && this.#links.some((l) => l.kind !== "selector")) return true;
    const output = this.#output;
    return output !== undefined &&
      (output.pageMatches !== undefined || output.fields.some((f) => f.regex && !f.selector));
  }

  /**
   * The streaming query for a page whose links (`links`) and items (`items`) are wanted, or
   * undefined when that needs no selector. Link selectors come first in `all`, in step order;
   * page fields with a selector in `first`, in field order.
   */
  #query(links: boolean, items: boolean): StreamQuery | undefined {
    const key = (links ? 1 : 0) + (items ? 2 : 0);
    if (this.#queries.has(key)) return this.#queries.get(key);
    const init: StreamQueryInit = {};
    if (links) {
      init.all = this.#links.filter((l) => l.kind === "selector").map((l) => ({
        selector: l.stream as StreamSelector,
        attr: l.attr,
      }));
    }
    const output = this.#output;
    if (items && output) {
      if (output.each !== undefined) {
        init.each = {
          selector: output.eachStream as StreamSelector,
          fields: output.fields.map((f) => ({
            selector: f.stream as StreamSelector | undefined,
            attr: f.attr,
          })),
        };
      } else {
        init.first = output.fields.filter((f) => f.stream).map((f) => ({
          selector: f.stream as StreamSelector,
          attr: f.attr,
        }));
      }
    }
    const empty = !init.all?.length && !init.first?.length && !init.each;
    const query = empty ? undefined : new StreamQuery(init);
    this.#queries.set(key, query);
    return query;
  }

  #findLinks(
    page: PageSource,
    own: (text: string) => string,
    sent: SentLinks | undefined,
    streamed: StreamResult | undefined,
  ): LinkGroup[] {
    const groups: LinkGroup[] = [];
    if (this.#links.length === 0) return groups;
    const resolver = new UrlResolver(page.url);
    const origin = resolver.origin;
    // Links repeat on a page (navigation, pagers): without `sent`, each is followed once per
    // rule and page.
    const seenByRule = sent ? undefined : new Map<string, Set<string>>();
    let anchors: string[] | undefined;
    let selectorSteps = 0;
    for (const step of this.#links) {
      let seen = seenByRule?.get(step.rule);
      if (seenByRule && !seen) seenByRule.set(step.rule, seen = new Set());
      let group = groups.find((g) => g.rule === step.rule && g.priority === step.priority);
      if (!group) groups.push(group = { rule: step.rule, priority: step.priority, urls: [] });
      let hrefs: Iterable<string>;
      if (step.kind === "anchors") hrefs = anchors ??= scanAnchorHrefs(page.body);
      else if (step.kind === "regex") hrefs = regexHrefs(page.body, step.regex!);
      else if (streamed) hrefs = streamed.all[selectorSteps++];
      else hrefs = selectorHrefs(page.document(), step.selector, step.attr);
      for (const href of hrefs) {
        let url: string | undefined;
        const path = resolver.localPath(href);
        if (path !== undefined) {
          // Most links were sent before: ask without building the URL.
          if (sent && !step.match && !sent.addJoined(origin, path)) continue;
          // Built from a piece of the body: copied, or the queued request would keep the whole
          // body in memory.
          url = own(origin + path);
          if (sent && !step.match) {
            group.urls.push(url);
            continue;
          }
        } else {
          if (step.sameHost && resolver.elsewhere(href)) continue;
          url = resolver.resolve(href);
          if (url === undefined || (step.sameHost && !resolver.sameHost(url))) continue;
        }
        if (step.match && !step.match.test(url)) continue;
        if (seen) {
          if (seen.has(url)) continue;
          seen.add(url);
        } else if (!sent!.add(url)) continue;
        group.urls.push(url);
      }
    }
    return groups.filter((g) => g.urls.length > 0);
  }

  #findItems(
    page: PageSource,
    own: (text: string) => string,
    streamed: StreamResult | undefined,
  ): Array<Record<string, string | null>> {
    const output = this.#output!;
    if (streamed) return streamedItems(output, page, streamed, own);
    if (output.each === undefined) return [readFields(output.fields, page, undefined, own)];
    const items = [];
    for (const element of page.document().querySelectorAll(output.each)) {
      items.push(readFields(output.fields, page, element, own));
    }
    return items;
  }
}

/**
 * The rule's path: `dom` as soon as one selector is outside the streaming subset (the DOM is
 * then built anyway, so every selector of the rule reads it), naming the first such selector.
 */
function choosePath(links: LinkStep[], output: OutputStep | undefined): RulePath {
  const reasons: string[] = [];
  let selectors = 0;
  links.forEach((link, i) => {
    if (link.kind !== "selector") return;
    selectors++;
    if (typeof link.stream === "string") {
      reasons.push(`links[${i}].selector "${link.selector}": ${link.stream}`);
    }
  });
  if (output) {
    if (output.each !== undefined) {
      selectors++;
      if (typeof output.eachStream === "string") {
        reasons.push(`output.each "${output.each}": ${output.eachStream}`);
      }
    }
    for (const field of output.fields) {
      if (field.selector !== undefined) {
        selectors++;
        if (typeof field.stream === "string") {
          reasons.push(`output.fields.${field.name}.selector "${field.selector}": ${field.stream}`);
        }
      } else if (
        output.each !== undefined && field.regex !== undefined && field.attr === undefined
      ) {
        reasons.push(`output.fields.${field.name}: a regex on the each element's HTML`);
      }
    }
  }
  if (reasons.length > 0) return { path: "dom", reason: reasons.join("; ") };
  return { path: selectors > 0 ? "stream" : "scan" };
}

/** The items of a page read by the streaming pass (see `readField` for what each field reads). */
function streamedItems(
  output: OutputStep,
  page: PageSource,
  streamed: StreamResult,
  own: (text: string) => string,
): Array<Record<string, string | null>> {
  const fields = output.fields;
  const finish = (field: FieldStep, raw: string | null): string | null => {
    if (raw === null) return null;
    const value = field.attr === undefined ? collapse(raw) : raw;
    if (field.regex === undefined) return own(value);
    const group = field.regex.exec(value)?.[1];
    return group === undefined ? null : own(group);
  };
  if (output.each !== undefined) {
    return streamed.items.map((values) => {
      const item: Record<string, string | null> = {};
      fields.forEach((field, i) => item[field.name] = finish(field, values[i]));
      return item;
    });
  }
  const item: Record<string, string | null> = {};
  let next = 0;
  for (const field of fields) {
    if (field.stream) item[field.name] = finish(field, streamed.first[next++]);
    else item[field.name] = readFields([field], page, undefined, own)[field.name];
  }
  return [item];
}

/** Compiles every rule of a (validated) spec, by name. */
export function compilePrograms(spec: DeclarativeSpec): Map<string, RuleProgram> {
  return new Map(Object.entries(spec.rules).map(([name, rule]) => [name, new RuleProgram(rule)]));
}

function compileLink(link: LinkSpec): LinkStep {
  const selector = link.selector?.trim().replace(/\s+/g, " ") ?? "a[href]";
  const attr = link.attr ?? "href";
  const kind = link.regex !== undefined
    ? "regex"
    : ANCHOR_SELECTORS.has(selector) && attr.toLowerCase() === "href"
    ? "anchors"
    : "selector";
  return {
    kind,
    selector,
    stream: kind === "selector" ? compileStreamSelector(selector) : undefined,
    attr,
    // "g" because every match is a link; matchAll copies the regex, so no lastIndex is shared.
    regex: link.regex === undefined ? undefined : new RegExp(link.regex, "g"),
    rule: link.rule,
    sameHost: link.sameHost ?? false,
    match: link.match === undefined ? undefined : new RegExp(link.match),
    priority: link.priority ?? 0,
  };
}

function compileField(name: string, field: FieldSpec): FieldStep {
  return {
    name,
    selector: field.selector,
    stream: field.selector === undefined ? undefined : compileStreamSelector(field.selector),
    attr: field.attr,
    regex: field.regex === undefined ? undefined : new RegExp(field.regex),
  };
}

function* regexHrefs(body: string, regex: RegExp): Iterable<string> {
  for (const match of body.matchAll(regex)) {
    if (match[1] !== undefined) yield decodeEntities(match[1]);
  }
}

function* selectorHrefs(document: PageDocument, selector: string, attr: string): Iterable<string> {
  for (const element of document.querySelectorAll(selector)) {
    const value = element.getAttribute(attr);
    if (value !== null) yield value;
  }
}

function readFields(
  fields: readonly FieldStep[],
  page: PageSource,
  element: PageElement | undefined,
  own: (text: string) => string,
): Record<string, string | null> {
  const item: Record<string, string | null> = {};
  for (const field of fields) {
    const value = readField(field, page, element);
    // Values are pieces of the body (or of linkedom's copy of it); a buffered item would keep it.
    item[field.name] = value === null ? null : own(value);
  }
  return item;
}

/** A field's value (see `fieldSpecSchema` for which part of the page each combination reads). */
function readField(
  field: FieldStep,
  page: PageSource,
  element: PageElement | undefined,
): string | null {
  let value: string | null;
  if (field.selector !== undefined) {
    const target = (element ?? page.document()).querySelector(field.selector);
    if (!target) return null;
    value = field.attr !== undefined ? target.getAttribute(field.attr) : textOf(target);
  } else if (element && field.attr !== undefined) {
    value = element.getAttribute(field.attr);
  } else if (field.regex !== undefined) {
    value = element ? htmlOf(element) : page.body;
  } else {
    value = element ? textOf(element) : null;
  }
  if (value === null || field.regex === undefined) return value;
  return field.regex.exec(value)?.[1] ?? null;
}

function keep(text: string): string {
  return text;
}

/**
 * A copy of `text` that keeps nothing else alive. V8 represents a substring as a view of its
 * parent string, so a 40-byte URL cut from a page can keep the whole page in memory for as long
 * as the URL waits in the queue. Slicing a fresh concatenation forces a flat copy.
 */
function ownString(text: string): string {
  return (" " + text).slice(1);
}

function textOf(element: PageElement): string {
  return collapse(element.textContent ?? "");
}

/** Text as fields give it: whitespace runs as one space, none at either end. */
function collapse(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

function htmlOf(element: PageElement): string {
  // linkedom elements have outerHTML; PageElement leaves it out as the built-in rules never
  // needed it.
  return (element as PageElement & { outerHTML?: string }).outerHTML ?? textOf(element);
}
