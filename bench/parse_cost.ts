/**
 * @module
 * What finding a page's links costs, per way of finding them: building linkedom's DOM and
 * querying `a[href]`, the DOM-free anchor scan the default link rule uses, one bare regular
 * expression, and the bench's whole declarative rule (links resolved and deduplicated, a title
 * field) on the main thread. Measured on a bench page (~50 KB, 300 links) and a ~290 KB one.
 */
import { parseHTML } from "linkedom";
import { generateSite } from "./generated_site.ts";
import { scanAnchorHrefs } from "../spider/declarative/link_scan.ts";
import { compilePrograms } from "../spider/declarative/rule_program.ts";
import type { DeclarativeSpec } from "../spider/declarative/spec_schema.ts";
import { ParseContext } from "../spider/parse_context.ts";

/** Milliseconds per page of one way of finding links. */
export interface ParseCost {
  method: string;
  pageBytes: number;
  links: number;
  ms: number;
}

function time(run: () => number, minMs = 300): { ms: number; links: number } {
  let links = run(); // warm up
  let n = 0;
  const started = performance.now();
  while (performance.now() - started < minMs) {
    links = run();
    n++;
  }
  return { ms: (performance.now() - started) / n, links };
}

/** Measures each method on a bench page and on a ~290 KB page. */
export function measureParseCost(spec: DeclarativeSpec): ParseCost[] {
  const program = compilePrograms(spec).values().next().value!;
  const pages = [
    generateSite({ build: 2 })[1],
    generateSite({ build: 2, paragraphs: 1100 })[1],
  ];
  const costs: ParseCost[] = [];
  for (const html of pages) {
    const req = {
      url: "http://127.0.0.1:8080/page/1.html",
      method: "GET",
      depth: 0,
      priority: 0,
      ruleName: "page",
      attempt: 0,
    };
    const methods: Array<[string, () => number]> = [
      ["linkedom DOM + a[href]", () => {
        const { document } = parseHTML(html) as unknown as {
          document: {
            querySelectorAll(s: string): Iterable<{ getAttribute(n: string): string | null }>;
          };
        };
        return [...document.querySelectorAll("a[href]")].map((a) => a.getAttribute("href")).length;
      }],
      ["anchor scan (default link rule)", () => scanAnchorHrefs(html).length],
      ["one regular expression", () => [...html.matchAll(/href="([^"]+)"/g)].length],
      ["whole bench rule, main thread", () => {
        const output = program.run(new ParseContext("bench", req, html));
        return output.links.reduce((n, g) => n + g.urls.length, 0);
      }],
    ];
    for (const [method, run] of methods) {
      costs.push({ method, pageBytes: html.length, ...time(run) });
    }
  }
  return costs;
}

if (import.meta.main) {
  const { wholeSiteSpec } = await import("./engine_crawl.ts");
  for (const cost of measureParseCost(wholeSiteSpec)) {
    console.log(
      `${(cost.pageBytes / 1024).toFixed(0)} KB, ${cost.method}: ${
        cost.ms.toFixed(2)
      } ms (${cost.links} links)`,
    );
  }
}
