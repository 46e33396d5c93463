import assert from "node:assert/strict";
import { declarativeSpecSchema } from "./spec_schema.ts";
import { formatIssues } from "./_issues.ts";

/** The error message a spec gets, or undefined when it is valid. */
function problems(spec: unknown): string | undefined {
  const result = declarativeSpecSchema.safeParse(spec);
  return result.success ? undefined : formatIssues(result.error);
}

const page = (rule: Record<string, unknown>) => ({ rules: { page: rule } });

Deno.test("a declarative spec with links, items and roots is valid and stays plain JSON", () => {
  const spec = {
    roots: [{ url: "/start", rule: "list", priority: 1 }],
    rules: {
      list: {
        links: [
          { rule: "list", sameHost: true, match: "/list/\\d+" },
          { selector: "a.book", rule: "book" },
          { regex: 'data-next="([^"]+)"', rule: "list" },
        ],
      },
      book: {
        output: {
          fields: {
            title: { selector: "h1" },
            cover: { selector: "img.cover", attr: "src" },
            price: { regex: "price: (\\d+)" },
          },
        },
      },
      comments: { output: { each: "li.comment", fields: { who: { selector: "b" }, text: {} } } },
      sunny: { output: { pageMatches: "阳台", urlMatches: "/topic/" } },
    },
    parseTimeoutMs: 5000,
  };
  assert.equal(problems(spec), undefined);
  assert.deepEqual(declarativeSpecSchema.parse(spec), spec, "nothing added or compiled");
});

Deno.test("a spec with a bad selector is rejected naming the key", () => {
  assert.match(
    problems(page({ links: [{ selector: "a[href", rule: "page" }] }))!,
    /^rules\.page\.links\[0\]\.selector: invalid selector "a\[href"/,
  );
  assert.match(
    problems(page({ output: { each: "li:nope", fields: {} } }))!,
    /^rules\.page\.output\.each: invalid selector "li:nope"/,
  );
  assert.match(
    problems(page({ output: { fields: { t: { selector: "div >" } } } }))!,
    /^rules\.page\.output\.fields\.t\.selector: invalid selector "div >": ends with a combinator/,
  );
});

Deno.test("a spec with a bad regular expression is rejected naming the key", () => {
  assert.match(
    problems(page({ links: [{ regex: "href=(", rule: "page" }] }))!,
    /^rules\.page\.links\[0\]\.regex: invalid regular expression "href=\("/,
  );
  assert.match(
    problems(page({ output: { pageMatches: "[a-" } }))!,
    /^rules\.page\.output\.pageMatches: invalid regular expression/,
  );
});

Deno.test("a regular expression whose group 1 is read must have a capture group", () => {
  assert.match(
    problems(page({ links: [{ regex: 'href="[^"]+"', rule: "page" }] }))!,
    /^rules\.page\.links\[0\]\.regex: .*needs a capture group/,
  );
  assert.match(
    problems(page({ output: { fields: { price: { regex: "\\d+" } } } }))!,
    /^rules\.page\.output\.fields\.price\.regex: .*needs a capture group/,
  );
  assert.equal(problems(page({ output: { urlMatches: "/item/\\d+" } })), undefined);
});

Deno.test("a root or link naming an unknown rule is rejected naming the key", () => {
  const message = problems({
    roots: [{ rule: "start" }],
    rules: { page: { links: [{ rule: "detail" }] } },
  })!;
  assert.match(message, /roots\[0\]\.rule: unknown rule "start" \(rules: "page"\)/);
  assert.match(message, /rules\.page\.links\[0\]\.rule: unknown rule "detail"/);
});

Deno.test("field names may not take a results table's own columns or repeat one", () => {
  assert.match(
    problems(page({ output: { fields: { URL: { regex: "(x)" } } } }))!,
    /^rules\.page\.output\.fields\.URL: "URL" is a column of every results table/,
  );
  assert.match(
    problems(page({ output: { fields: { Title: { regex: "(x)" }, title: { regex: "(y)" } } } }))!,
    /^rules\.page\.output\.fields\.title: "title" repeats a field name/,
  );
});

Deno.test("a field must say where its value comes from", () => {
  assert.match(
    problems(page({ output: { fields: { title: {} } } }))!,
    /^rules\.page\.output\.fields\.title: a field needs a selector or a regex/,
  );
  assert.match(
    problems(page({ output: { fields: { src: { attr: "src" } } } }))!,
    /^rules\.page\.output\.fields\.src\.attr: attr needs a selector/,
  );
  // Inside `each`, a bare field is the element's text and `attr` reads the element.
  assert.equal(
    problems(page({ output: { each: "img", fields: { alt: { attr: "alt" }, text: {} } } })),
    undefined,
  );
});

Deno.test("unknown keys, empty rule sets and mixed link kinds are rejected", () => {
  assert.match(problems(page({ link: [] }))!, /^rules\.page: Unrecognized key: "link"/);
  assert.match(problems({ rules: {} })!, /^rules: needs at least one rule/);
  assert.match(
    problems(page({ links: [{ selector: "a", regex: "(x)", rule: "page" }] }))!,
    /^rules\.page\.links\[0\]\.regex: give selector or regex, not both/,
  );
  assert.match(
    problems({ roots: [{ url: "ftp://x/", rule: "page" }], rules: { page: {} } })!,
    /^roots\[0\]\.url: expected an http\(s\) URL/,
  );
});

Deno.test("a rule's recrawl is kept as written; its unknown keys and bad types are rejected", () => {
  const spec = page({ recrawl: { interval: "1h", min: 60_000, max: "7d", adaptive: false } });
  assert.equal(problems(spec), undefined);
  assert.deepEqual(declarativeSpecSchema.parse(spec), spec);
  assert.match(
    problems(page({ recrawl: { every: "1h" } }))!,
    /^rules\.page\.recrawl: unknown key "every" \(recrawl keys: interval, min, max, adaptive\)/,
  );
  assert.match(
    problems(page({ recrawl: { interval: true } }))!,
    /^rules\.page\.recrawl\.interval: /,
  );
  assert.match(problems(page({ recrawl: "1h" }))!, /^rules\.page\.recrawl: .*expected object/);
});
