/**
 * @module
 * Reads a sitemap file as fetched: an XML urlset or sitemap index, a plain-text sitemap (one URL
 * a line), an RSS 2.0 or an Atom feed; gzipped or not (told by its magic bytes, whatever the
 * name or headers say). Streaming and bounded: the decompressed bytes go to htmlparser2's
 * streaming parser a chunk at a time and are never held whole; past `maxBytes` (50 MiB, the
 * sitemap protocol's limit) the file is refused, so a gzip bomb costs one small chunk of memory.
 */
import { Parser } from "htmlparser2";

/** One URL a sitemap lists, with its `<lastmod>` (or a feed item's date) as epoch ms. */
export interface SitemapEntry {
  /** The URL as written (a filter may replace it with the absolute URL). */
  url: string;
  /** Its `<lastmod>`, `<pubDate>` or `<updated>`, epoch ms, when it has a valid one. */
  lastmod?: number;
}

/** What kind of file it was, told by its root element (or its first character). */
export type SitemapFormat = "urlset" | "sitemapindex" | "text" | "rss" | "atom";

/** What a sitemap file lists. */
export interface SitemapContents {
  /** The kind of file it was. */
  format: SitemapFormat;
  /** Page URLs (a urlset's `<url>`, a feed's items, a text sitemap's lines) that passed `filter`. */
  pages: SitemapEntry[];
  /** Sitemap URLs of a sitemap index that passed `filter`. */
  sitemaps: SitemapEntry[];
  /** Entries over `maxEntries`, left out. */
  skipped: number;
  /** Bytes read after decompression. */
  bytes: number;
}

/** Options for {@linkcode parseSitemap}. */
export interface ParseSitemapOptions {
  /** Most bytes read after decompression; a bigger file is refused. Default 50 MiB. */
  maxBytes?: number;
  /** Most entries kept (the protocol allows 50,000 a file); the rest are counted. Default 50,000. */
  maxEntries?: number;
  /** Keeps an entry when true; entries left out cost no memory. Default: keep all. */
  filter?: (entry: SitemapEntry, kind: "page" | "sitemap") => boolean;
}

/** The sitemap protocol's limit on an uncompressed sitemap file: 50 MiB. */
export const MAX_SITEMAP_BYTES = 50 * 1024 * 1024;
const MAX_ENTRIES = 50_000;
/** Longest URL or date text kept; longer ones are not URLs a crawler wants. */
const MAX_FIELD_CHARS = 8192;
/**
 * Compressed bytes handed to the decompressor at once. Deno's `DecompressionStream` turns each
 * write into one output chunk (a 1 MB bomb written whole comes out as one 1 GiB chunk); deflate
 * expands at most ~1032×, so a 1 KiB write yields at most ~1 MiB however the file was made.
 */
const GZIP_SLICE = 1024;
/** Bytes of an uncompressed body decoded and parsed at once. */
const PLAIN_SLICE = 64 * 1024;
/** Bytes parsed between two turns of the event loop (about 30 ms of work). */
const YIELD_EVERY = 1024 * 1024;

/**
 * Reads the sitemap in `body`: the bytes as fetched, whole or as they arrive (then never held
 * whole: a chunk is asked for once the one before is parsed). Rejects with an `Error` naming the
 * limit for a file over `maxBytes` once decompressed, and for a root element that is no sitemap
 * or feed (an HTML error page, say); an error of `body`'s own (a failed download) passes through.
 *
 * @example
 * ```ts
 * const { pages, sitemaps } = await parseSitemap(ctx.chunks());
 * ```
 */
export async function parseSitemap(
  body: Uint8Array | AsyncIterable<Uint8Array>,
  options: ParseSitemapOptions = {},
): Promise<SitemapContents> {
  const maxBytes = options.maxBytes ?? MAX_SITEMAP_BYTES;
  const reader = new SitemapReader(options);
  const decoder = new TextDecoder("utf-8", { ignoreBOM: false });
  let bytes = 0;
  let sinceYield = 0;
  for await (const chunk of plainChunks(body)) {
    bytes += chunk.byteLength;
    if (bytes > maxBytes) {
      throw new Error(
        `sitemap over ${maxBytes} bytes once decompressed (the sitemap protocol's 50 MiB limit)`,
      );
    }
    reader.write(decoder.decode(chunk, { stream: true }));
    sinceYield += chunk.byteLength;
    if (sinceYield >= YIELD_EVERY) {
      // Parsing runs on the crawl's main thread: let its sockets and timers in now and then.
      sinceYield = 0;
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }
  reader.write(decoder.decode());
  return { ...reader.end(), bytes };
}

/** True if `bytes` starts with gzip's magic number, 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** The file's bytes, decompressed when gzipped, in chunks of bounded size. */
async function* plainChunks(
  body: Uint8Array | AsyncIterable<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  const source = body instanceof Uint8Array ? once(body) : body;
  const iterator = source[Symbol.asyncIterator]();
  // The first two bytes tell gzip from anything else; a stream may bring them in two chunks.
  const head: Uint8Array[] = [];
  let headBytes = 0;
  try {
    while (headBytes < 2) {
      const next = await iterator.next();
      if (next.done) break;
      head.push(next.value);
      headBytes += next.value.byteLength;
    }
  } catch (error) {
    await iterator.return?.();
    throw error;
  }
  const all = rejoin(head, iterator);
  if (!isGzip(firstBytes(head, 2))) {
    // Decoded a slice at a time: the whole text is never one string beside the bytes.
    yield* sliced(all, PLAIN_SLICE);
    return;
  }
  const compressed = sliced(all, GZIP_SLICE);
  // A failure of the body itself (the download), told apart from bad gzip data.
  let bodyError: { error: unknown } | undefined;
  const stream = new ReadableStream<BufferSource>({
    async pull(controller) {
      let next: IteratorResult<Uint8Array>;
      try {
        next = await compressed.next();
      } catch (error) {
        bodyError = { error };
        throw error;
      }
      if (next.done) controller.close();
      else controller.enqueue(next.value as Uint8Array<ArrayBuffer>);
    },
    async cancel() {
      await compressed.return(undefined);
    },
  }, { highWaterMark: 0 });
  const reader = stream.pipeThrough(new DecompressionStream("gzip")).getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } catch (error) {
    if (bodyError) throw bodyError.error;
    throw new Error(`sitemap: bad gzip data: ${(error as Error).message}`, { cause: error });
  } finally {
    // Stops the decompressor and the download when the caller leaves early (over the limit).
    await reader.cancel().catch(() => {/* it failed already: nothing left to stop */});
  }
}

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

/** The chunks of `head`, then the rest of `rest`; leaving early ends `rest` too. */
async function* rejoin(
  head: Uint8Array[],
  rest: AsyncIterator<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  let finished = false;
  try {
    yield* head;
    for (;;) {
      const next = await rest.next();
      if (next.done) {
        finished = true;
        return;
      }
      yield next.value;
    }
  } finally {
    if (!finished) await rest.return?.();
  }
}

/** `chunks` cut into pieces of at most `size` bytes. */
async function* sliced(
  chunks: AsyncIterable<Uint8Array>,
  size: number,
): AsyncGenerator<Uint8Array> {
  for await (const chunk of chunks) {
    for (let at = 0; at < chunk.byteLength; at += size) yield chunk.subarray(at, at + size);
  }
}

/** The first `count` bytes over `chunks` (fewer if they hold fewer). */
function firstBytes(chunks: readonly Uint8Array[], count: number): Uint8Array {
  const bytes: number[] = [];
  for (const chunk of chunks) {
    for (let i = 0; i < chunk.byteLength && bytes.length < count; i++) bytes.push(chunk[i]);
  }
  return Uint8Array.from(bytes);
}

/** Element names of interest by format: the entry element and its fields. */
const ENTRY: Record<Exclude<SitemapFormat, "text">, string> = {
  urlset: "url",
  sitemapindex: "sitemap",
  rss: "item",
  atom: "entry",
};

/** Turns text fed in pieces into entries; decides the format from the first characters. */
class SitemapReader {
  readonly #maxEntries: number;
  readonly #filter: ParseSitemapOptions["filter"];
  #format: SitemapFormat | undefined;
  #parser: Parser | undefined;
  #line = "";
  #lineTooLong = false;
  /** Open elements, by local name. */
  readonly #stack: string[] = [];
  /** Depth of the entry element being read, or -1. */
  #entryDepth = -1;
  #field: "url" | "date" | undefined;
  #url = "";
  #date = "";
  #error: Error | undefined;
  readonly pages: SitemapEntry[] = [];
  readonly sitemaps: SitemapEntry[] = [];
  skipped = 0;

  constructor(options: ParseSitemapOptions) {
    this.#maxEntries = options.maxEntries ?? MAX_ENTRIES;
    this.#filter = options.filter;
  }

  write(text: string): void {
    if (this.#error) throw this.#error;
    if (this.#format === undefined) {
      const start = text.search(/[^\s\uFEFF]/);
      if (start < 0) return;
      text = text.slice(start);
      if (text[0] === "<") {
        this.#parser = new Parser({
          onopentag: (name, attribs) => this.#open(name, attribs),
          onclosetag: (name) => this.#close(name),
          ontext: (data) => this.#text(data),
        }, { xmlMode: true });
        this.#format = "urlset"; // until the root element says otherwise
        this.#stack.length = 0;
      } else {
        this.#format = "text";
      }
    }
    if (this.#parser) this.#parser.write(text);
    else this.#lines(text);
    if (this.#error) throw this.#error;
  }

  end(): Omit<SitemapContents, "bytes"> {
    if (this.#parser) this.#parser.end();
    else this.#lines("\n");
    if (this.#error) throw this.#error;
    return {
      format: this.#format ?? "text",
      pages: this.pages,
      sitemaps: this.sitemaps,
      skipped: this.skipped,
    };
  }

  #lines(text: string): void {
    let from = 0;
    for (;;) {
      const newline = text.indexOf("\n", from);
      const piece = text.slice(from, newline < 0 ? text.length : newline);
      if (this.#line.length + piece.length > MAX_FIELD_CHARS) this.#lineTooLong = true;
      else this.#line += piece;
      if (newline < 0) return;
      const line = this.#line.trim();
      if (!this.#lineTooLong && /^https?:\/\//i.test(line)) this.#add({ url: line }, "page");
      this.#line = "";
      this.#lineTooLong = false;
      from = newline + 1;
    }
  }

  #open(name: string, attribs: Record<string, string>): void {
    const local = localName(name);
    const depth = this.#stack.push(local) - 1;
    if (depth === 0) {
      const format = ({
        urlset: "urlset",
        sitemapindex: "sitemapindex",
        rss: "rss",
        rdf: "rss",
        feed: "atom",
      } as const)[local];
      if (format === undefined) {
        this.#error = new Error(`not a sitemap or feed: the root element is <${name}>`);
        this.#parser!.pause();
        return;
      }
      this.#format = format;
      return;
    }
    const format = this.#format as Exclude<SitemapFormat, "text">;
    if (this.#entryDepth < 0) {
      if (local === ENTRY[format]) {
        this.#entryDepth = depth;
        this.#url = "";
        this.#date = "";
      }
      return;
    }
    if (depth !== this.#entryDepth + 1) return;
    if (format === "atom") {
      const rel = attribs.rel ?? "alternate";
      if (local === "link" && rel === "alternate" && attribs.href && this.#url === "") {
        this.#url = attribs.href.slice(0, MAX_FIELD_CHARS);
      } else if (local === "updated" || (local === "published" && this.#date === "")) {
        this.#date = "";
        this.#field = "date";
      }
    } else if (format === "rss") {
      // An RSS item's own <link> is text; <atom:link> and the like are not it.
      if (name === "link") this.#field = "url";
      else if (name === "pubDate" || local === "date") this.#field = "date";
    } else if (local === "loc") {
      this.#field = "url";
    } else if (local === "lastmod") {
      this.#field = "date";
    }
  }

  #text(data: string): void {
    if (this.#field === "url" && this.#url.length < MAX_FIELD_CHARS) {
      this.#url = (this.#url + data).slice(0, MAX_FIELD_CHARS);
    } else if (this.#field === "date" && this.#date.length < 100) {
      this.#date += data;
    }
  }

  #close(name: string): void {
    const depth = this.#stack.length - 1;
    this.#stack.pop();
    if (depth === this.#entryDepth + 1) {
      this.#field = undefined;
      return;
    }
    if (depth !== this.#entryDepth) return;
    this.#entryDepth = -1;
    const url = this.#url.trim();
    if (url === "" || localName(name) === "") return;
    const lastmod = Date.parse(this.#date.trim());
    const entry: SitemapEntry = Number.isNaN(lastmod) ? { url } : { url, lastmod };
    this.#add(entry, this.#format === "sitemapindex" ? "sitemap" : "page");
  }

  #add(entry: SitemapEntry, kind: "page" | "sitemap"): void {
    if (this.#filter && !this.#filter(entry, kind)) return;
    if (this.pages.length + this.sitemaps.length >= this.#maxEntries) {
      this.skipped++;
      return;
    }
    (kind === "page" ? this.pages : this.sitemaps).push(entry);
  }
}

/** `image:loc` → `loc`, lower-cased (sitemaps are written in any case by hand-rolled tools). */
function localName(name: string): string {
  return name.slice(name.indexOf(":") + 1).toLowerCase();
}
