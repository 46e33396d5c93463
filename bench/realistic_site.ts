/**
 * @module
 * The bench's realistic site: pages shaped like a real documentation or shop site rather than
 * a list of links. Each page (~100 KB) has a head with metadata, stylesheets and an inline
 * script; a header navigation and a long nested sidebar; breadcrumbs; an article of long
 * paragraphs with inline links, entities, code blocks and tables; a footer. About 300 links a
 * page, written as real sites write them: root-relative, relative (`../x/3.html`, `4.html`),
 * absolute (`http://HOST/…`: the server puts its own host there), with fragments, and some to
 * other hosts. Every 400th page is very large (~2.5 MB:
 * a long reference table). Built deterministically, so every run crawls the same site; every
 * page is reachable from `/` through double-quoted same-host links.
 */
import { prng } from "./generated_site.ts";

/** Options for {@linkcode generateRealisticSite}. */
export interface RealisticSiteOptions {
  /** Pages on the site. Default 2000. */
  pages?: number;
  /** PRNG seed. Default 7. */
  seed?: number;
  /** Every this many pages, one is ~2.5 MB. Default 400. */
  largeEvery?: number;
  /** Pages to build, from the first. Default all. */
  build?: number;
}

const SECTIONS = ["guide", "api", "reference", "tutorials", "products", "blog"];

/** The path of page `i`: `/` for the first, else `/<section>/<i>.html`. */
export function realisticPagePath(i: number): string {
  return i === 0 ? "/" : `/${SECTIONS[i % SECTIONS.length]}/${i}.html`;
}

/** The page number of `path`, or undefined when it is not a page of the site. */
export function realisticPageIndex(path: string, pages: number): number | undefined {
  if (path === "/") return 0;
  const match = /^\/([a-z]+)\/(\d+)\.html$/.exec(path);
  if (!match) return undefined;
  const i = Number(match[2]);
  return i > 0 && i < pages && SECTIONS[i % SECTIONS.length] === match[1] ? i : undefined;
}

const WORDS = ("the a of to and in is for that with on as by this be are from or at an it " +
  "crawler request response header body parser selector element attribute value queue worker " +
  "configuration timeout retry concurrency limit frontier storage result table field option " +
  "returns default example section page document stream token memory performance").split(" ");

/** Every page of the site, as HTML, indexed by page number. */
export function generateRealisticSite(options: RealisticSiteOptions = {}): string[] {
  const pages = options.pages ?? 2000;
  const largeEvery = options.largeEvery ?? 400;
  const random = prng(options.seed ?? 7);
  const int = (n: number) => Math.floor(random() * n);
  const word = () => WORDS[int(WORDS.length)];
  const words = (n: number) => Array.from({ length: n }, word).join(" ");
  const anyPage = () => 1 + int(pages - 1);
  /** A link to page `target` from page `from`, written one of the ways real pages write them. */
  const href = (from: number, target: number): string => {
    const path = realisticPagePath(target);
    const style = int(10);
    if (target === 0 || style < 5) return path;
    const [, section, file] = path.split("/");
    const here = realisticPagePath(from).split("/")[1];
    if (style < 7) return section === here ? file : `../${section}/${file}`;
    if (style < 8) return `${path}#${word()}`;
    if (style < 9) return `http://HOST${path}`;
    return `https://example.com/${section}/${file}`;
  };
  // Shared parts, as real sites repeat their navigation on every page.
  const header =
    `<header class="site-header"><a class="logo" href="/"><img src="/static/logo.svg" alt="Docs"></a>` +
    `<nav class="top-nav" aria-label="Main"><ul>${
      Array.from({ length: 40 }, (_, k) =>
        `<li class="top-nav__item"><a class="top-nav__link" href="${
          realisticPagePath(1 + (k * 37) % (pages - 1))
        }">${words(2)}</a></li>`).join("")
    }</ul></nav><form class="search" action="/search" method="get"><input type="search" name="q" placeholder="Search&hellip;"></form></header>`;
  const footer = (i: number) =>
    `<footer class="site-footer"><div class="cols">${
      Array.from({ length: 4 }, () =>
        `<div class="col"><h4>${words(2)}</h4><ul>${
          Array.from({ length: 6 }, () =>
            `<li><a href="https://example.org/${word()}">${words(2)}</a></li>`).join("")
        }</ul></div>`).join("")
    }</div><p class="updated">Last updated <time datetime="2026-0${1 + (i % 9)}-1${i % 10}">${
      words(2)
    }</time> &middot; &copy; 2026 Example&nbsp;Inc.</p></footer>`;

  const site: string[] = [];
  const build = Math.min(pages, options.build ?? pages);
  for (let i = 0; i < build; i++) {
    const section = SECTIONS[i % SECTIONS.length];
    const title = `${words(4)} &mdash; ${section} | Example Docs`;
    const parts: string[] = [
      `<!DOCTYPE html>\n<html lang="en" class="no-js"><head><meta charset="utf-8">`,
      `<meta name="viewport" content="width=device-width, initial-scale=1">`,
      `<title>${title}</title><meta name="description" content="${words(25)}">`,
      `<link rel="canonical" href="http://HOST${realisticPagePath(i)}">`,
      `<link rel="stylesheet" href="/static/css/main.css?v=3"><link rel="icon" href="/favicon.ico">`,
      `<script>window.__DATA__ = ${
        JSON.stringify({ page: i, toc: Array.from({ length: 60 }, () => words(3)) })
      }; if (a < b) { document.write("<a href='/nowhere'>x</a>"); }</script>`,
      `<style>.toc a[href] > span { color: #333 } /* <div class="x"> */</style>`,
      `</head><body class="page ${section}-page">`,
      header,
      `<div class="layout"><aside class="sidebar"><nav class="toc" aria-label="Contents"><ul class="toc__list">`,
    ];
    // The sidebar: nested lists, like a documentation table of contents.
    for (let g = 0; g < 18; g++) {
      parts.push(
        `<li class="toc__group"><span class="toc__title">${words(3)}</span><ul class="toc__sub">`,
      );
      for (let k = 0; k < 10; k++) {
        // The first link chains every page to the next, so all are reachable from `/`.
        const link = g === 0 && k === 0 ? realisticPagePath((i + 1) % pages) : href(i, anyPage());
        parts.push(
          `<li class="toc__item${
            k === 0 ? " toc__item--first" : ""
          }"><a class="toc__link" href="${link}" title="${words(3)}"><span>${
            words(3)
          }</span></a></li>`,
        );
      }
      parts.push(`</ul></li>`);
    }
    parts.push(
      `</ul></nav></aside><main id="content" class="content"><nav class="breadcrumb"><a href="/">Home</a> &rsaquo; <a href="/${section}/${
        (i % 6) || 6
      }.html">${section}</a> &rsaquo; <span>${words(2)}</span></nav>`,
      `<article class="doc"><h1 class="doc__title">${words(5)}</h1><p class="lead">${
        words(40)
      }</p>`,
    );
    const large = i > 0 && i % largeEvery === 0;
    const blocks = 18;
    for (let b = 0; b < blocks; b++) {
      parts.push(`<h2 id="s${b}">${words(4)}</h2>`);
      for (let p = 0; p < 4; p++) {
        parts.push(
          `<p>${words(50)} <a href="${href(i, anyPage())}">${words(3)}</a> ${words(40)} &ldquo;${
            words(5)
          }&rdquo; &amp; ${words(20)}.</p>`,
        );
      }
      if (b % 4 === 1) {
        parts.push(
          `<pre><code class="language-ts">const x = await fetch("/api/${word()}?a=1&amp;b=2");\nif (x.status &lt; 400 &amp;&amp; ok) { return &quot;${
            words(3)
          }&quot;; }\n</code></pre>`,
        );
      }
      if (b % 3 === 2) {
        parts.push(
          `<table class="params"><thead><tr><th>Name</th><th>Type</th><th>Default</th><th>Description</th></tr></thead><tbody>`,
        );
        for (let r = 0; r < 8; r++) {
          parts.push(
            `<tr><td><code>${word()}</code></td><td>${word()}</td><td>${int(100)}</td><td>${
              words(12)
            }</td></tr>`,
          );
        }
        parts.push(`</tbody></table>`);
      }
    }
    if (large) {
      // A long reference page: a table of ~2.4 MB.
      parts.push(`<table class="reference"><tbody>`);
      for (let r = 0; r < 12_000; r++) {
        parts.push(
          `<tr class="row"><td>${r}</td><td><a href="#r${r}">${words(3)}</a></td><td>${
            words(18)
          }</td></tr>`,
        );
      }
      parts.push(`</tbody></table>`);
    }
    parts.push(`</article></main></div>`, footer(i), `</body></html>`);
    site.push(parts.join("\n"));
  }
  return site;
}
