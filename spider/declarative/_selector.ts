/**
 * @module
 * Checks the CSS selectors of a declarative spec before anything runs, with the same engine
 * (linkedom's css-select) that will run them, so a selector accepted here also runs later.
 */
import { parseHTML } from "linkedom";
import type { PageDocument } from "../parse_context.ts";

/**
 * An empty document to compile selectors against. css-select compiles the whole selector before
 * matching, so querying an empty document reports every syntax error at the cost of no matching.
 * Built on first use; it is never changed, so sharing it is safe.
 */
let emptyDocument: PageDocument | undefined;

/** The problem with `selector`, or undefined if linkedom can run it. */
export function selectorError(selector: string): string | undefined {
  if (selector.trim() === "") return "empty selector";
  // css-select forgives a few things a browser rejects; catch them here so a typo is not
  // silently read as another selector.
  const unquoted = selector.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""');
  if (/[;{}]/.test(unquoted)) return `invalid selector "${selector}": unexpected ; { or }`;
  if (/[>+~,]\s*$/.test(unquoted)) return `invalid selector "${selector}": ends with a combinator`;
  emptyDocument ??=
    (parseHTML("<!DOCTYPE html><html><head></head><body></body></html>") as unknown as {
      document: PageDocument;
    }).document;
  try {
    emptyDocument.querySelector(selector);
    return undefined;
  } catch (error) {
    return `invalid selector "${selector}": ${(error as Error).message}`;
  }
}
