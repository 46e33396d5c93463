/**
 * @module
 * The streaming selector engine: reads what a rule asks of a page (first matches' text or
 * attribute, every match's attribute, items per `each` element) in one pass over htmlparser2's
 * parser callbacks, without building a tree, and stops as soon as nothing more can match.
 *
 * It gives the values linkedom's DOM gives: linkedom builds its tree from the same parser with
 * the same options (attribute names kept as written, entities decoded), so the elements, their
 * nesting (implied end tags included) and their text are the same; `StreamSelector` matches as
 * css-select does. `stream_query_test.ts` checks both against each other.
 */
import { decodeHTML, decodeHTMLAttribute, DecodingMode } from "entities";
import { Parser } from "htmlparser2";
import type { OpenElement, StreamSelector } from "./_stream_selector.ts";

/** Read the first match's text (no `attr`) or its attribute. */
export interface FirstMatch {
  selector: StreamSelector;
  attr?: string;
}

/** Inside an `each` element: the first matching descendant, or (no selector) the element itself. */
export interface ScopedField {
  selector?: StreamSelector;
  attr?: string;
}

/** What one pass reads of a page. */
export interface StreamQueryInit {
  /** Values of the first match in the page, each. */
  first?: FirstMatch[];
  /** Every match's attribute (matches without it are skipped), in document order, each. */
  all?: Array<{ selector: StreamSelector; attr: string }>;
  /** One item per element matching `selector` (nested ones too), with its fields. */
  each?: { selector: StreamSelector; fields: ScopedField[] };
}

/** What a pass found. Text is as the DOM's `textContent` gives it (whitespace not collapsed). */
export interface StreamResult {
  first: Array<string | null>;
  all: string[][];
  items: Array<Array<string | null>>;
}

/** Elements whose text the tokenizer reads raw (entities not decoded); `<title>` is decoded. */
const RAW_TEXT = new Set(["script", "style", "textarea", "xmp"]);

/**
 * An open element. The parser runs without decoding entities (it then skips text and attribute
 * values with `indexOf` instead of reading them character by character), so values are decoded
 * here, only when read, the way the tokenizer would have.
 */
class Frame implements OpenElement {
  children = 0;
  #class: string | undefined;

  constructor(
    readonly name: string,
    readonly raw: Record<string, string>,
    readonly position: number,
    readonly parent: Frame | undefined,
    /** Open `<template>` elements above it (linkedom's queries do not look inside templates). */
    readonly templates: number,
    /** Its text is read raw: a script, style, textarea or xmp start tag not written `<x/>`. */
    readonly rawText: boolean,
  ) {}

  has(name: string): boolean {
    return Object.hasOwn(this.raw, name);
  }

  attr(name: string): string | undefined {
    if (!Object.hasOwn(this.raw, name)) return undefined;
    if (name === "class") return this.#class ??= normalizeClass(decodeValue(this.raw.class));
    return decodeValue(this.raw[name]);
  }
}

function decodeValue(value: string): string {
  return value.includes("&") ? decodeHTMLAttribute(value) : value;
}

/** htmlparser2's parser, telling whether the start tag it reports was written `<x/>`. */
class StreamParser extends Parser {
  selfClosing = false;

  override onselfclosingtag(endIndex: number): void {
    this.selfClosing = true;
    try {
      super.onselfclosingtag(endIndex);
    } finally {
      this.selfClosing = false;
    }
  }
}

interface Capture {
  /** Depth of the element whose text this is; it ends when that element closes. */
  depth: number;
  parts: string[];
  done: (text: string) => void;
}

interface Scope {
  depth: number;
  frame: Frame;
  values: Array<string | null>;
  /** Which selector fields are still unmatched. */
  open: boolean[];
  waiting: number;
}

/**
 * A compiled query: build it once per rule, run it on every page with {@linkcode run}.
 *
 * @example
 * ```ts
 * const query = new StreamQuery({ first: [{ selector: compileStreamSelector("title") as StreamSelector }] });
 * query.run(["<html><head><title>Hi</title></head>…"]).first; // ["Hi"]
 * ```
 */
export class StreamQuery {
  readonly #first: FirstMatch[];
  readonly #all: Array<{ selector: StreamSelector; attr: string }>;
  readonly #each: StreamQueryInit["each"];

  constructor(init: StreamQueryInit) {
    this.#first = init.first ?? [];
    this.#all = init.all ?? [];
    this.#each = init.each;
  }

  /**
   * Runs the query over the page's text, given whole or in pieces (read lazily: pieces after
   * the pass has stopped are never asked for, so they need not be decoded).
   */
  run(html: string | Iterable<string>): StreamResult {
    const pass = new Pass(this.#first, this.#all, this.#each);
    const parser = new StreamParser(pass, {
      lowerCaseAttributeNames: false,
      decodeEntities: false,
    });
    pass.parser = parser;
    if (typeof html === "string") {
      parser.write(html);
    } else {
      for (const piece of html) {
        parser.write(piece);
        if (pass.stopped) break;
      }
    }
    if (!pass.stopped) parser.end();
    pass.finish();
    return pass.result;
  }
}

/**
 * The value `getAttribute(name)` has on linkedom's element: `class` is its class list joined
 * (so "" when the element has none), other names as written or null.
 */
function readAttribute(element: Frame, name: string): string | null {
  return element.attr(name) ?? (name === "class" ? "" : null);
}

/** linkedom keeps a class attribute as its token list joined: no repeats, single spaces. */
function normalizeClass(value: string): string {
  const tokens = value.split(/\s+/);
  if (tokens.length === 1 && tokens[0] === value) return value;
  return [...new Set(tokens.filter((t) => t !== ""))].join(" ");
}

/** One pass: the parser's callbacks. */
class Pass {
  parser: StreamParser | undefined;
  stopped = false;
  readonly result: StreamResult;
  readonly #firstLeft: boolean[];
  #firstWaiting: number;
  #stack: Frame[] = [];
  #rootChildren = 0;
  #captures: Capture[] = [];
  #scopes: Scope[] = [];
  /** Raw text read since the last tag or comment, while a capture wants it. */
  #text: string[] = [];

  constructor(
    readonly first: FirstMatch[],
    readonly all: Array<{ selector: StreamSelector; attr: string }>,
    readonly each: StreamQueryInit["each"],
  ) {
    this.result = { first: first.map(() => null), all: all.map(() => []), items: [] };
    this.#firstLeft = first.map(() => true);
    this.#firstWaiting = first.length;
  }

  onopentag(name: string, attribs: Record<string, string>): void {
    this.#flushText();
    const stack = this.#stack;
    const parent = stack.length > 0 ? stack[stack.length - 1] : undefined;
    const frame = new Frame(
      name,
      attribs,
      parent ? ++parent.children : ++this.#rootChildren,
      parent,
      parent ? parent.templates + (parent.name === "template" ? 1 : 0) : 0,
      RAW_TEXT.has(name) && !this.parser!.selfClosing,
    );
    stack.push(frame);
    const depth = stack.length;
    // Scopes first: a new `each` element's fields are read from its descendants only.
    for (const scope of this.#scopes) this.#matchScoped(scope, frame, depth);
    if (frame.templates > 0) return;
    const { first, result } = this;
    if (this.#firstWaiting > 0) {
      const left = this.#firstLeft;
      for (let i = 0; i < first.length; i++) {
        if (!left[i] || !first[i].selector.matches(frame)) continue;
        left[i] = false;
        const { attr } = first[i];
        if (attr !== undefined) {
          result.first[i] = readAttribute(frame, attr);
          this.#firstWaiting--;
        } else {
          this.#capture(depth, (text) => {
            result.first[i] = text;
            this.#firstWaiting--;
          });
        }
      }
    }
    const all = this.all;
    for (let i = 0; i < all.length; i++) {
      if (!all[i].selector.matches(frame)) continue;
      const value = readAttribute(frame, all[i].attr);
      if (value !== null) result.all[i].push(value);
    }
    const each = this.each;
    if (each && each.selector.matches(frame)) {
      const values: Array<string | null> = each.fields.map(() => null);
      result.items.push(values);
      const scope: Scope = { depth, frame, values, open: [], waiting: 0 };
      each.fields.forEach((field, i) => {
        if (field.selector) {
          scope.open[i] = true;
          scope.waiting++;
        } else if (field.attr !== undefined) {
          values[i] = readAttribute(frame, field.attr);
        } else {
          this.#capture(depth, (text) => values[i] = text);
        }
      });
      if (scope.waiting > 0) this.#scopes.push(scope);
    }
  }

  /** After the last callback: text still pending goes to captures still open (none, by then). */
  finish(): void {
    this.#flushText();
  }

  #matchScoped(scope: Scope, frame: Frame, depth: number): void {
    if (scope.waiting === 0) return;
    // Templates below the scope element hide their contents from its queries.
    if (frame.templates !== (scope.frame.name === "template" ? 1 : 0)) return;
    const fields = this.each!.fields;
    for (let i = 0; i < fields.length; i++) {
      if (!scope.open[i] || !fields[i].selector!.matches(frame)) continue;
      scope.open[i] = false;
      scope.waiting--;
      const { attr } = fields[i];
      if (attr !== undefined) scope.values[i] = readAttribute(frame, attr);
      else this.#capture(depth, (text) => scope.values[i] = text);
    }
  }

  #capture(depth: number, done: (text: string) => void): void {
    this.#captures.push({ depth, parts: [], done });
  }

  ontext(text: string): void {
    if (this.#captures.length > 0) this.#text.push(text);
  }

  /**
   * Hands the text read since the last tag to the captures, decoded as the tokenizer would have
   * (once per run of text: the parser may report a run in pieces, split inside an entity).
   */
  #flushText(): void {
    const pieces = this.#text;
    if (pieces.length === 0) return;
    const raw = pieces.length === 1 ? pieces[0] : pieces.join("");
    pieces.length = 0;
    const top = this.#stack[this.#stack.length - 1];
    const text = top?.rawText || !raw.includes("&") ? raw : decodeHTML(raw, DecodingMode.Legacy);
    for (const capture of this.#captures) capture.parts.push(text);
  }

  oncomment(): void {
    this.#flushText();
  }

  onprocessinginstruction(): void {
    this.#flushText();
  }

  onclosetag(): void {
    this.#flushText();
    const depth = this.#stack.length;
    this.#stack.pop();
    const captures = this.#captures;
    if (captures.length > 0 && captures[captures.length - 1].depth >= depth) {
      // Captures nest (a later one is never shallower), so finished ones are at the end.
      while (captures.length > 0 && captures[captures.length - 1].depth >= depth) {
        const capture = captures.pop()!;
        capture.done(capture.parts.join(""));
      }
    }
    const scopes = this.#scopes;
    while (scopes.length > 0 && scopes[scopes.length - 1].depth >= depth) scopes.pop();
    if (
      this.#firstWaiting === 0 && captures.length === 0 && this.all.length === 0 &&
      this.each === undefined
    ) {
      // Nothing more can match: the rest of the page need not be read.
      this.stopped = true;
      this.parser!.pause();
    }
  }
}
