/**
 * @module
 * What reading a page costs on the main thread (CPU time), per way of reading it: building linkedom's DOM
 * and querying `a[href]`, the DOM-free anchor scan the default link rule uses, the streaming
 * pass for the selector rule set's fields, and each bench rule set whole (links resolved and
 * deduplicated, fields read). Measured on a realistic page (~100 KB) and a very large one.
 */
import process from "node:process";
import { parseHTML } from "linkedom";
import { generateRealisticSite } from "./realistic_site.ts";
import { scanAnchorHrefs } from "../spider/declarative/link_scan.ts";
import { compilePrograms, type RuleProgram } from "../spider/declarative/rule_program.ts";
import type { DeclarativeSpec } from "../spider/declarative/spec_schema.ts";
import { ParseContext } from "../spider/parse_context.ts";
import {
  selectorDomSiteSpec,
  selectorSiteSpec,
  selectorToEndSiteSpec,
  wholeSiteSpec,
} from "./engine_crawl.ts";

/** Milliseconds per page of one way of reading it. */
export interface ParseCost {
  method: string;
  pageBytes: number;
  links: number;
  ms: number;
}

/** CPU time, not wall time: on a machine other processes load, wall time measures them too. */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

function time(run: () => number, minMs = 300): { ms: number; links: number } {
  let links = run(); // warm up
  let n = 0;
  const started = cpuMs();
  while (cpuMs() - started < minMs) {
    links = run();
    n++;
  }
  return { ms: (cpuMs() - started) / n, links };
}

/** Measures each method on a realistic page and on a very large one. */
export function measureParseCost(): ParseCost[] {
  const site = generateRealisticSite({ build: 401 });
  const pages = [site[7], site[400]].map((html) => html.replaceAll("//HOST/", "//127.0.0.1:8080/"));
  const program = (spec: DeclarativeSpec) => compilePrograms(spec).values().next().value!;
  const regexRule = program(wholeSiteSpec);
  const selectorRule = program(selectorSiteSpec);
  const domRule = program(selectorDomSiteSpec);
  const fieldsOnly = program({ rules: { page: { output: selectorSiteSpec.rules.page.output } } });
  const toEnd = program({ rules: { page: { output: selectorToEndSiteSpec.rules.page.output } } });
  const costs: ParseCost[] = [];
  for (const html of pages) {
    const req = {
      url: "http://127.0.0.1:8080/guide/7.html",
      method: "GET",
      depth: 0,
      priority: 0,
      ruleName: "page",
      attempt: 0,
    };
    const whole = (rule: RuleProgram) => () => {
      const output = rule.run(new ParseContext("bench", req, html));
      return output.links.reduce((n, g) => n + g.urls.length, 0);
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
      ["streaming pass, 3 selector fields", () => {
        fieldsOnly.run(new ParseContext("bench", req, html));
        return 0;
      }],
      ["streaming pass, to the footer", () => {
        toEnd.run(new ParseContext("bench", req, html));
        return 0;
      }],
      ["regex rule set, whole rule", whole(regexRule)],
      ["selector rule set, whole rule", whole(selectorRule)],
      ["selector rule set through the DOM", whole(domRule)],
    ];
    for (const [method, run] of methods) {
      costs.push({ method, pageBytes: html.length, ...time(run) });
    }
  }
  return costs;
}

if (import.meta.main) {
  for (const cost of measureParseCost()) {
    console.log(
      `${(cost.pageBytes / 1024).toFixed(0)} KB, ${cost.method}: ${
        cost.ms.toFixed(2)
      } ms (${cost.links} links)`,
    );
  }
}
