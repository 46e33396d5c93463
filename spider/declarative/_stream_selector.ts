/**
 * @module
 * CSS selectors compiled for the streaming engine: the subset crawl rules use (type, `*`, `#id`,
 * `.class`, every attribute operator, descendant and child combinators, selector lists,
 * `:first-child`, `:nth-child(an+b)`), matched against an element as it opens, with its
 * ancestors on a stack, so no tree is built. Anything else is refused with the reason, and the
 * rule reads it from linkedom's DOM instead.
 *
 * Matching follows what linkedom's css-select does on an HTML document, not what a browser does,
 * since the two engines must give the same values: selectors are parsed by the same css-what,
 * attribute names in a selector are lowercased while the page's are kept as written (so
 * `[href]` does not match `HREF=`), and the HTML attributes css-select compares without case are
 * the same list.
 */
import { type AttributeSelector, parse, type Selector } from "css-what";
import { parse as parseNth } from "nth-check";

/** An element as the tokenizer opened it, with its place in the tree. */
export interface OpenElement {
  /** Lowercased tag name. */
  readonly name: string;
  /**
   * The value of attribute `name` (as written: names are not lowercased) as linkedom holds it:
   * entities decoded, a class list normalised; undefined when absent.
   */
  attr(name: string): string | undefined;
  /** True if the element has attribute `name`. */
  has(name: string): boolean;
  /** 1-based position among its parent's element children. */
  readonly position: number;
  /** The parent element; undefined at the top of the document. */
  readonly parent: OpenElement | undefined;
}

type Test = (element: OpenElement) => boolean;

/** One compound selector (`div.a[b]`) and how the compound on its left must relate to it. */
interface Compound {
  tests: Test[];
  /** The left compound matches an ancestor (`descendant`) or the parent (`child`). */
  combinator: "descendant" | "child" | undefined;
}

/** A compiled selector list; `matches` tests an element that has just opened. */
export class StreamSelector {
  /** Each alternative of the list, compounds right to left. */
  readonly #alternatives: Compound[][];

  constructor(readonly source: string, alternatives: Compound[][]) {
    this.#alternatives = alternatives;
  }

  /** True if `element` matches any selector of the list. */
  matches(element: OpenElement): boolean {
    for (const compounds of this.#alternatives) {
      if (matchFrom(compounds, 0, element)) return true;
    }
    return false;
  }
}

function matchFrom(compounds: Compound[], index: number, element: OpenElement): boolean {
  const compound = compounds[index];
  for (const test of compound.tests) if (!test(element)) return false;
  if (index + 1 === compounds.length) return true;
  if (compound.combinator === "child") {
    return element.parent !== undefined && matchFrom(compounds, index + 1, element.parent);
  }
  for (let up = element.parent; up !== undefined; up = up.parent) {
    if (matchFrom(compounds, index + 1, up)) return true;
  }
  return false;
}

/**
 * Compiles `selector` for the streaming engine, or returns why it cannot run there (a string).
 * A selector css-what cannot parse is reported as such; `selectorError` has already rejected
 * those for a checked spec.
 *
 * @example
 * ```ts
 * compileStreamSelector("ul.nav > li:first-child a[href^='/']"); // a StreamSelector
 * compileStreamSelector("li:last-child"); // ":last-child needs to see what follows the element"
 * ```
 */
export function compileStreamSelector(selector: string): StreamSelector | string {
  let parsed: Selector[][];
  try {
    parsed = parse(selector);
  } catch (error) {
    return `cannot parse: ${(error as Error).message}`;
  }
  const alternatives: Compound[][] = [];
  for (const tokens of parsed) {
    const compounds: Compound[] = [];
    let current: Compound = { tests: [], combinator: undefined };
    let universal = false;
    for (const token of tokens) {
      switch (token.type) {
        case "descendant":
        case "child":
          if (current.tests.length === 0 && compounds.length === 0 && !universal) {
            return "a leading combinator is not supported";
          }
          compounds.push(current);
          current = { tests: [], combinator: token.type };
          universal = false;
          break;
        case "tag": {
          if (token.namespace != null) return "namespaced tag names are not supported";
          const name = token.name.toLowerCase();
          current.tests.push((element) => element.name === name);
          break;
        }
        case "universal":
          if (token.namespace != null) return "namespaced selectors are not supported";
          universal = true;
          break;
        case "attribute": {
          const test = attributeTest(token);
          if (typeof test === "string") return test;
          current.tests.push(test);
          break;
        }
        case "pseudo": {
          const test = pseudoTest(token.name, token.data);
          if (typeof test === "string") return test;
          current.tests.push(test);
          break;
        }
        case "adjacent":
        case "sibling":
          return `the ${token.type === "adjacent" ? "+" : "~"} combinator is not supported`;
        default:
          return `${token.type} selectors are not supported`;
      }
    }
    compounds.push(current);
    // Matched right to left: each compound's combinator relates it to the one on its left.
    const ordered = compounds.reverse();
    alternatives.push(ordered);
  }
  return new StreamSelector(selector, alternatives);
}

/**
 * Attributes whose values css-select compares without case in an HTML document.
 * @see https://html.spec.whatwg.org/multipage/semantics-other.html#case-sensitivity-of-selectors
 */
const CASE_INSENSITIVE_ATTRIBUTES = new Set(
  ("accept accept-charset align alink axis bgcolor charset checked clear codetype color compact " +
    "declare defer dir direction disabled enctype face frame hreflang http-equiv lang language " +
    "link media method multiple nohref noresize noshade nowrap readonly rel rev rules scope " +
    "scrolling selected shape target text type valign valuetype vlink").split(" "),
);

const REGEX_CHARS = /[-[\]{}()*+?.,\\^$|#\s]/g;

function valueOf(element: OpenElement, name: string): string | undefined {
  return element.attr(name);
}

function attributeTest(token: AttributeSelector): Test | string {
  if (token.namespace != null) return "namespaced attributes are not supported";
  const name = token.name.toLowerCase();
  const ignoreCase = typeof token.ignoreCase === "boolean"
    ? token.ignoreCase
    : token.ignoreCase === "quirks"
    ? false
    : CASE_INSENSITIVE_ATTRIBUTES.has(name);
  const value = ignoreCase ? token.value.toLowerCase() : token.value;
  const fold = ignoreCase ? (text: string) => text.toLowerCase() : (text: string) => text;
  const never: Test = () => false;
  switch (token.action) {
    case "exists":
      return (element) => element.has(name);
    case "equals":
      return (element) => {
        const actual = valueOf(element, name);
        return actual !== undefined && actual.length === value.length && fold(actual) === value;
      };
    case "not":
      if (value === "") return (element) => !!valueOf(element, name);
      return (element) => {
        const actual = valueOf(element, name);
        return actual === undefined || fold(actual) !== value;
      };
    case "start":
      if (value === "") return never;
      return (element) => fold(valueOf(element, name) ?? "\0").startsWith(value);
    case "end":
      if (value === "") return never;
      return (element) => {
        const actual = valueOf(element, name);
        return actual !== undefined && fold(actual).endsWith(value);
      };
    case "any":
      if (value === "") return never;
      return (element) => {
        const actual = valueOf(element, name);
        return actual !== undefined && fold(actual).includes(value);
      };
    case "hyphen":
      return (element) => {
        const actual = valueOf(element, name);
        return actual !== undefined &&
          (actual.length === value.length || actual.charAt(value.length) === "-") &&
          fold(actual.slice(0, value.length)) === value;
      };
    case "element": {
      if (/\s/.test(token.value)) return never;
      const word = new RegExp(
        `(?:^|\\s)${token.value.replace(REGEX_CHARS, "\\$&")}(?:$|\\s)`,
        ignoreCase ? "i" : "",
      );
      return (element) => {
        const actual = valueOf(element, name);
        return actual !== undefined && word.test(actual);
      };
    }
    default:
      return `the attribute operator ${token.action} is not supported`;
  }
}

function pseudoTest(name: string, data: unknown): Test | string {
  if (name === "first-child") return (element) => element.position === 1;
  if (name === "nth-child") {
    if (typeof data !== "string" || /\bof\b/i.test(data)) {
      return ":nth-child(… of S) is not supported";
    }
    let a: number, b: number;
    try {
      [a, b] = parseNth(data);
    } catch {
      return `:nth-child(${data}) cannot be parsed`;
    }
    // nth-check's compile, on 0-based positions (css-select's).
    b -= 1;
    if (b < 0 && a <= 0) return () => false;
    // A formula every position satisfies: css-select then only asks for a parent element.
    if (a === 1 && b < 0) return (element) => element.parent !== undefined;
    const at = (check: (index: number) => boolean): Test => (element) =>
      check(element.position - 1);
    if (a === -1) return at((index) => index <= b);
    if (a === 0) return at((index) => index === b);
    if (a === 1) return at((index) => index >= b);
    const absA = Math.abs(a);
    const bModulo = ((b % absA) + absA) % absA;
    return a > 1
      ? at((index) => index >= b && index % absA === bModulo)
      : at((index) => index <= b && index % absA === bModulo);
  }
  if (name === "last-child" || name === "only-child" || name.startsWith("nth-last")) {
    return `:${name} needs to see what follows the element`;
  }
  return `the pseudo-class :${name} is not supported`;
}
