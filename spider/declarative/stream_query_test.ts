import assert from "node:assert/strict";
import { parseHTML } from "linkedom";
import { compileStreamSelector, type StreamSelector } from "./_stream_selector.ts";
import { StreamQuery } from "./stream_query.ts";
import { CORPUS, DOM_ONLY_SELECTORS, SUBSET_SELECTORS } from "./_stream_corpus.ts";
import type { PageDocument, PageElement } from "../parse_context.ts";

/** Attributes read of every match: plain, class (linkedom's token list), absent, uppercase. */
const ATTRS = ["href", "class", "data-id", "id", "HREF", "value", "lang", "data-k", "missing"];

function dom(html: string): PageDocument {
  return (parseHTML(html) as unknown as { document: PageDocument }).document;
}

function compiled(selector: string): StreamSelector {
  const result = compileStreamSelector(selector);
  if (typeof result === "string") throw new Error(`${selector}: ${result}`);
  return result;
}

/** What linkedom gives for `selector`: first match's text and attributes, every match's. */
function domValues(document: PageDocument | PageElement, selector: string) {
  const first = document.querySelector(selector);
  const all = [...document.querySelectorAll(selector)];
  return {
    first: [first?.textContent ?? null, ...ATTRS.map((a) => first ? first.getAttribute(a) : null)],
    all: ATTRS.map((a) => all.map((e) => e.getAttribute(a)).filter((v) => v !== null)),
  };
}

function streamValues(html: string | string[], selector: string) {
  const s = compiled(selector);
  const result = new StreamQuery({
    first: [{ selector: s }, ...ATTRS.map((attr) => ({ selector: s, attr }))],
    all: ATTRS.map((attr) => ({ selector: s, attr })),
  }).run(html);
  // A first match with no text has "" as its textContent; none at all is null.
  return { first: result.first, all: result.all };
}

Deno.test("streaming selectors give linkedom's text and attributes on every corpus page", () => {
  let compared = 0;
  for (const [name, html] of Object.entries(CORPUS)) {
    const document = dom(html);
    for (const selector of SUBSET_SELECTORS) {
      assert.deepEqual(
        streamValues(html, selector),
        domValues(document, selector),
        `page "${name}", selector "${selector}"`,
      );
      compared++;
    }
  }
  assert.equal(compared, Object.keys(CORPUS).length * SUBSET_SELECTORS.length);
});

Deno.test("a page fed in small pieces gives the same values as the whole page", () => {
  for (const [name, html] of Object.entries(CORPUS)) {
    const pieces = html.match(/[\s\S]{1,7}/g) ?? [];
    for (const selector of ["a[href]", "title", ".product .name", "li:nth-child(odd)", "td"]) {
      assert.deepEqual(
        streamValues(pieces, selector),
        streamValues(html, selector),
        `${name}: ${selector}`,
      );
    }
  }
});

const EACH_CASES: Array<[each: string, fields: Array<[selector?: string, attr?: string]>]> = [
  [".product", [["h2"], [".price"], ["a", "href"], [undefined, "data-id"], [], ["b"]]],
  ["li", [["a"], ["a", "href"], [undefined, "class"], []]],
  ["tr", [["td"], ["td:nth-child(2)"], ["th"], ["i"]]],
  ["div", [["div"], ["p"], ["span", "lang"], [undefined, "id"]]],
  ["template", [["div"], ["a", "href"], []]],
  ["ul", [["li"], ["li li"], ["ul li:first-child"]]],
];

Deno.test("each scopes give linkedom's values per element, nested elements included", () => {
  for (const [name, html] of Object.entries(CORPUS)) {
    const document = dom(html);
    for (const [each, fields] of EACH_CASES) {
      const expected = [...document.querySelectorAll(each)].map((element) =>
        fields.map(([selector, attr]) => {
          if (selector === undefined) {
            return attr === undefined ? element.textContent : element.getAttribute(attr);
          }
          const target = element.querySelector(selector);
          if (!target) return null;
          return attr === undefined ? target.textContent : target.getAttribute(attr);
        })
      );
      const actual = new StreamQuery({
        each: {
          selector: compiled(each),
          fields: fields.map(([selector, attr]) => ({
            selector: selector === undefined ? undefined : compiled(selector),
            attr,
          })),
        },
      }).run(html).items;
      assert.deepEqual(actual, expected, `page "${name}", each "${each}"`);
    }
  }
});

Deno.test("selectors outside the subset are refused with the reason", () => {
  for (const selector of DOM_ONLY_SELECTORS) {
    const result = compileStreamSelector(selector);
    assert.equal(typeof result, "string", selector);
    assert.notEqual(result, "", selector);
  }
  assert.match(compileStreamSelector("li:last-child") as string, /last-child/);
  assert.match(compileStreamSelector("li + li") as string, /\+ combinator/);
});

Deno.test("the pass stops at the first match when nothing else is asked", () => {
  let asked = 0;
  function* pieces() {
    asked++;
    yield "<html><head><title>Early</title></head>";
    asked++;
    yield "<body>" + "<p>long text</p>".repeat(1000);
    asked++;
    yield "</body></html>";
  }
  const result = new StreamQuery({ first: [{ selector: compiled("title") }] }).run(pieces());
  assert.deepEqual(result.first, ["Early"]);
  assert.equal(asked, 1, "pieces after the title were not read");
});

/** A small deterministic PRNG (mulberry32), so a failure can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TAGS = ["div", "p", "span", "a", "li", "ul", "td", "tr", "table", "b", "h2", "DIV", "A", "i"];
const SPECIAL = ["script", "style", "title", "textarea", "template", "br", "img", "option"];
const CLASSES = ["x", "y", "item", "nav", "a-b"];
const TEXTS = ["text", " ", "a &amp; b", "&lt;div&gt;", "&copy", "\n  ", "<", "x>y", "&#65;", "é"];

/** A random page of messy markup: unclosed, misnested, odd attributes, raw-text elements. */
function randomPage(random: () => number): string {
  const pick = <T>(items: T[]) => items[Math.floor(random() * items.length)];
  const parts: string[] = [];
  const open: string[] = [];
  for (let n = 0; n < 60; n++) {
    const r = random();
    if (r < 0.35) {
      const tag = random() < 0.85 ? pick(TAGS) : pick(SPECIAL);
      const attrs: string[] = [];
      if (random() < 0.5) {
        attrs.push(`class="${pick(CLASSES)}${random() < 0.3 ? " " + pick(CLASSES) : ""}"`);
      }
      if (random() < 0.3) attrs.push(`href=${random() < 0.5 ? `"/p/${n}"` : `/u${n}`}`);
      if (random() < 0.2) attrs.push(`id=i${Math.floor(random() * 5)}`);
      if (random() < 0.2) {
        attrs.push(
          `data-k='${
            pick(["1", "2", "x y", "x&amp;y", "&lt;b&gt;", "&notit;", "a&amp", "&copy=1"])
          }'`,
        );
      }
      if (random() < 0.1) attrs.push("HREF=/upper");
      if (random() < 0.1) attrs.push("disabled");
      parts.push(`<${tag}${attrs.map((a) => " " + a).join("")}${random() < 0.05 ? "/" : ""}>`);
      if (tag === "script" || tag === "style" || tag === "textarea" || tag === "title") {
        parts.push(`<a href="/raw">${pick(TEXTS)}</div>`, `</${tag}>`);
      } else open.push(tag);
    } else if (r < 0.6 && open.length > 0) {
      // Close the innermost, or (misnested) one further out, or one never opened.
      const which = random() < 0.7 ? open.length - 1 : Math.floor(random() * open.length);
      parts.push(random() < 0.9 ? `</${open.splice(which, 1)[0]}>` : `</${pick(TAGS)}>`);
    } else if (r < 0.65) {
      parts.push(
        pick(["<!-- <a href='/c'> -->", "<![CDATA[<b>c</b>]]>", "<!doctype html>", "<?xml x?>"]),
      );
    } else {
      parts.push(pick(TEXTS));
    }
  }
  return parts.join("");
}

/** A random selector of the subset over the same vocabulary. */
function randomSelector(random: () => number): string {
  const pick = <T>(items: T[]) => items[Math.floor(random() * items.length)];
  const compound = () => {
    let s = random() < 0.7 ? pick(TAGS).toLowerCase() : random() < 0.5 ? "*" : "";
    if (random() < 0.3) s += "." + pick(CLASSES);
    if (random() < 0.15) s += "#i" + Math.floor(random() * 5);
    if (random() < 0.2) {
      s += pick(["[href]", "[href^='/p']", "[data-k~=x]", "[class*=a]", "[disabled]"]);
    }
    if (random() < 0.15) {
      s += pick([":first-child", ":nth-child(2)", ":nth-child(odd)", ":nth-child(-n+3)"]);
    }
    return s === "" ? "*" : s;
  };
  let selector = compound();
  const steps = Math.floor(random() * 3);
  for (let i = 0; i < steps; i++) selector += pick([" ", " > "]) + compound();
  return random() < 0.15 ? `${selector}, ${compound()}` : selector;
}

Deno.test("property: on random messy pages, random subset selectors agree with linkedom", () => {
  const random = prng(12);
  let nonEmpty = 0;
  for (let page = 0; page < 150; page++) {
    const html = randomPage(random);
    const document = dom(html);
    for (let k = 0; k < 12; k++) {
      const selector = randomSelector(random);
      const expected = domValues(document, selector);
      assert.deepEqual(
        streamValues(html, selector),
        expected,
        `page ${page}: ${selector}\n${html}`,
      );
      if (expected.first[0] !== null) nonEmpty++;
    }
  }
  // The generator must produce matches, or the property says nothing.
  assert.ok(nonEmpty > 300, `only ${nonEmpty} selectors matched anything`);
});
