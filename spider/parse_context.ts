/**
 * @module
 * What a rule sees of one fetched page: the body, the request, a lazily built DOM, and
 * helpers to follow links and output items.
 */
import { parseHTML } from "linkedom";
import type { CrawlRequest } from "../frontier/crawl_request.ts";
import { type Item, itemKey } from "./item.ts";

/** The part of a DOM element rules use (linkedom's types assume a browser global scope). */
export interface PageElement {
  readonly textContent: string | null;
  getAttribute(name: string): string | null;
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): ArrayLike<PageElement> & Iterable<PageElement>;
}

/** The DOM of a page, built by linkedom. */
export interface PageDocument {
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): ArrayLike<PageElement> & Iterable<PageElement>;
}

/** A fetched page whose text is decoded on first read (`FetchResponse` is one). */
export interface PageBody {
  readonly body: string;
  readonly raw?: Uint8Array;
  /** The body as it arrives, for a rule that reads it so (`RuleFetch.stream`). */
  readonly stream?: ReadableStream<Uint8Array>;
  readonly contentType: string | null;
}

/** Options for {@linkcode ParseContext.output}. */
export interface OutputOptions {
  /**
   * A field of the item whose value identifies it wherever it is found (an ISBN, a product
   * id): the item's key is then that value instead of its position on the page.
   */
  keyField?: string;
}

export interface FollowOptions {
  priority?: number;
  method?: string;
  tmp?: Record<string, unknown>;
}

/** The parse context of one page. Regular-expression rules never pay for a DOM. */
export class ParseContext {
  #document: PageDocument | undefined;
  #body: string | undefined;
  #page: PageBody | undefined;
  /** Items output so far: the next item's position on the page. */
  #outputs = 0;

  constructor(
    readonly task: string,
    readonly req: CrawlRequest,
    /** The page: its decoded text, or what was fetched (decoded when first read). */
    page: string | PageBody,
    /** The URL the response came from (after redirects); links resolve against it. */
    readonly url: string = req.url,
  ) {
    if (typeof page === "string") this.#body = page;
    else this.#page = page;
  }

  /** The body decoded to UTF-8 (decoded on first read). */
  get body(): string {
    return this.#body ??= this.#page!.body;
  }

  /**
   * The page's bytes as fetched and its content type, while it has not been decoded on this
   * thread: a parse worker can then decode it there instead. Undefined otherwise.
   */
  undecoded(): { raw: Uint8Array; contentType: string | null } | undefined {
    const page = this.#page;
    if (this.#body !== undefined || !page?.raw) return undefined;
    return { raw: page.raw, contentType: page.contentType };
  }

  /**
   * The body's bytes as fetched (not decoded), a chunk at a time: as they arrive when the page
   * was fetched as a stream (a rule whose `fetch.stream` asks for it), else the bytes fetched, or
   * the text encoded as UTF-8. Read them once; leaving early cancels the rest of a stream.
   *
   * @example
   * ```ts
   * for await (const chunk of ctx.chunks()) size += chunk.byteLength;
   * ```
   */
  async *chunks(): AsyncGenerator<Uint8Array> {
    const page = this.#page;
    if (!page?.stream) {
      yield page?.raw ?? new TextEncoder().encode(this.body);
      return;
    }
    const reader = page.stream.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        yield value;
      }
    } finally {
      // Left early (the rule stopped reading): the rest is not wanted, its connection is.
      await reader.cancel().catch(() => {/* the stream failed: nothing left to release */});
      reader.releaseLock();
    }
  }

  /** The page's DOM, built on first use and at most once per page. */
  document(): PageDocument {
    this.#document ??= (parseHTML(this.body) as unknown as { document: PageDocument }).document;
    return this.#document;
  }

  /** True once `document()` has built a DOM (tests use it to prove rules stay cheap). */
  get hasDocument(): boolean {
    return this.#document !== undefined;
  }

  /** Resolves `href` against the page URL; undefined for non-http(s) or malformed links. */
  resolve(href: string): string | undefined {
    try {
      const url = new URL(href, this.url);
      if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
      url.hash = "";
      return url.href;
    } catch {
      return undefined;
    }
  }

  /**
   * A request for `href` (resolved against the page) parsed by `ruleName`, one level deeper.
   * Returns undefined when the link is not an http(s) URL.
   */
  follow(href: string, ruleName: string, options: FollowOptions = {}): CrawlRequest | undefined {
    const url = this.resolve(href);
    if (url === undefined) return undefined;
    return {
      url,
      method: options.method ?? "GET",
      depth: this.req.depth + 1,
      priority: options.priority ?? 0,
      ruleName,
      tmp: options.tmp,
      attempt: 0,
    };
  }

  /**
   * An item of this page, stamped with task, rule, URL, time and a stable key: its position
   * among this page's items, or the value of `keyField` (see `itemKey`). Call it once per item,
   * in page order, so a page parsed again gives its items the same keys.
   */
  output(data: Record<string, unknown>, options: OutputOptions = {}): Item {
    const key = itemKey(this.req.url, this.#outputs++, data, options.keyField);
    return {
      task: this.task,
      rule: this.req.ruleName,
      url: this.req.url,
      time: Date.now(),
      key,
      data,
    };
  }
}
