/**
 * @module
 * The bench's generated site: `pages` HTML pages of realistic size (~40 KB: a head, a navigation
 * block of a few hundred links to other pages of the site, paragraphs of text), built
 * deterministically so every run crawls the same site. Page 0 (`/`) links to every page within a
 * few hops: each page links to the next one and to random others.
 */

/** Options for {@linkcode generateSite}. */
export interface GeneratedSiteOptions {
  /** Pages on the site. Default 5000. */
  pages?: number;
  /** Links on each page. Default 300. */
  linksPerPage?: number;
  /** Paragraphs of text on each page (~250 bytes each). Default 80. */
  paragraphs?: number;
  /** PRNG seed. Default 1. */
  seed?: number;
  /** Pages to build, from the first (they are the same as in the whole site). Default all. */
  build?: number;
}

/** The path of page `i`: `/` for the first, else `/page/<i>.html`. */
export function pagePath(i: number): string {
  return i === 0 ? "/" : `/page/${i}.html`;
}

/** The page number of `path`, or undefined when it is not a page of the site. */
export function pageIndex(path: string, pages: number): number | undefined {
  if (path === "/") return 0;
  const match = /^\/page\/(\d+)\.html$/.exec(path);
  const i = match ? Number(match[1]) : NaN;
  return i > 0 && i < pages ? i : undefined;
}

const WORDS = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor " +
  "incididunt ut labore et dolore magna aliqua enim ad minim veniam quis nostrud exercitation " +
  "ullamco laboris nisi aliquip ex ea commodo consequat duis aute irure in reprehenderit " +
  "voluptate velit esse cillum fugiat nulla pariatur excepteur sint occaecat cupidatat").split(" ");

/** A small deterministic PRNG (mulberry32): the same seed builds the same site. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Every page of the site, as HTML, indexed by page number. */
export function generateSite(options: GeneratedSiteOptions = {}): string[] {
  const pages = options.pages ?? 5000;
  const linksPerPage = options.linksPerPage ?? 300;
  const paragraphs = options.paragraphs ?? 80;
  const random = prng(options.seed ?? 1);
  const word = () => WORDS[Math.floor(random() * WORDS.length)];
  const sentence = (n: number) => Array.from({ length: n }, word).join(" ");
  // A pool of paragraphs shared by the pages keeps generation fast; each page picks its own mix.
  const pool = Array.from({ length: 200 }, () => `<p>${sentence(35)}.</p>`);
  const site: string[] = [];
  const build = Math.min(pages, options.build ?? pages);
  for (let i = 0; i < build; i++) {
    const title = `Page ${i}: ${sentence(4)}`;
    const parts = [
      `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${title}</title>`,
      `<link rel="stylesheet" href="/static/site.css"><script>window.page = ${i};</script>`,
      `</head><body><header><a href="/" class="home">Home</a></header><nav><ul>`,
    ];
    for (let l = 0; l < linksPerPage; l++) {
      const target = l === 0 ? (i + 1) % pages : Math.floor(random() * pages);
      parts.push(
        `<li class="nav-item"><a class="nav-link" href="${
          pagePath(target)
        }" title="${word()} ${target}">${word()} ${word()} ${target}</a></li>`,
      );
    }
    parts.push(`</ul></nav><main><h1 class="title">${title}</h1><article>`);
    for (let p = 0; p < paragraphs; p++) parts.push(pool[Math.floor(random() * pool.length)]);
    parts.push(`</article></main><footer>© bench</footer></body></html>`);
    site.push(parts.join("\n"));
  }
  return site;
}
