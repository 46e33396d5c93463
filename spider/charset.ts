/**
 * @module
 * Decoding a fetched page to a string whatever charset it declares (GBK and GB18030
 * included), as the Go project did with golang.org/x/net/html/charset.
 */

/** How far into the body `<meta>` and `<?xml?>` declarations are looked for. */
const PRESCAN_BYTES = 2048;

/** Labels decoded with gb18030, a superset of them (the WHATWG GBK decoder is the same). */
const GB_LABELS = new Set([
  "gb2312",
  "gbk",
  "x-gbk",
  "cp936",
  "ms936",
  "windows-936",
  "gb_2312",
  "gb_2312-80",
  "csgb2312",
  "iso-ir-58",
  "chinese",
  "csiso58gb231280",
  "euc-cn",
]);

/** Where a charset came from, for logs and tests. */
export type CharsetSource = "bom" | "header" | "meta" | "sniff" | "default";

/** The outcome of {@linkcode detectCharset}. */
export interface DetectedCharset {
  /** A label `TextDecoder` accepts. */
  encoding: string;
  source: CharsetSource;
}

/**
 * Finds the charset of a response body, in the order browsers and Go's
 * `charset.DetermineEncoding` use: a byte-order mark; the `charset` of the Content-Type
 * header; a `<meta charset>`, `<meta http-equiv="Content-Type" content="…charset=…">` or
 * `<?xml encoding=…?>` within the first 2 KB; then UTF-8 if the bytes are valid UTF-8, gb18030
 * if they read as Chinese text, else UTF-8. A label `TextDecoder` does not know is skipped, never
 * thrown.
 */
export function detectCharset(bytes: Uint8Array, contentType?: string | null): DetectedCharset {
  const bom = bomCharset(bytes);
  if (bom) return { encoding: bom, source: "bom" };
  const fromHeader = contentType ? supportedLabel(charsetParam(contentType)) : undefined;
  if (fromHeader) return { encoding: fromHeader, source: "header" };
  const fromMeta = metaCharset(bytes);
  if (fromMeta) return { encoding: fromMeta, source: "meta" };
  if (isUtf8(bytes)) return { encoding: "utf-8", source: "default" };
  if (looksLikeGb18030(bytes)) return { encoding: "gb18030", source: "sniff" };
  return { encoding: "utf-8", source: "default" };
}

/**
 * Decodes a response body to a string using the charset {@linkcode detectCharset} finds.
 * Bytes invalid in that charset become U+FFFD; it never throws.
 *
 * @example
 * ```ts
 * const html = decodeBody(new Uint8Array(await res.arrayBuffer()), res.headers.get("content-type"));
 * ```
 */
export function decodeBody(bytes: Uint8Array, contentType?: string | null): string {
  const { encoding } = detectCharset(bytes, contentType);
  // TextDecoder drops a BOM matching its encoding, so a BOM never reaches the parsers.
  return new TextDecoder(encoding).decode(bytes);
}

function bomCharset(bytes: Uint8Array): string | undefined {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return "utf-8";
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return "utf-16be";
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return "utf-16le";
  return undefined;
}

/** The `charset` parameter of a Content-Type value, unquoted. */
function charsetParam(value: string): string | undefined {
  return /;\s*charset\s*=\s*(?:"([^"]*)"|([^\s;]*))/i.exec(value)?.slice(1).find((v) => v);
}

/** The label as `TextDecoder` should get it, or undefined if it knows no such charset. */
function supportedLabel(label: string | undefined): string | undefined {
  if (!label) return undefined;
  const normal = label.trim().toLowerCase();
  if (GB_LABELS.has(normal)) return "gb18030";
  try {
    const encoding = new TextDecoder(normal).encoding;
    // Labels of encodings TextDecoder cannot really decode (iso-2022-kr…) map to "replacement".
    return encoding === "replacement" ? undefined : encoding;
  } catch {
    return undefined; // an unknown label: detection moves on to the next source
  }
}

/** A charset declared in the document head, as HTML's prescan would find it. */
function metaCharset(bytes: Uint8Array): string | undefined {
  // Declarations are ASCII, so a byte-per-char view of the head is enough to find them.
  const head = String.fromCharCode(...bytes.subarray(0, PRESCAN_BYTES)).replace(
    /<!--[\s\S]*?-->/g,
    "",
  );
  for (const [tag] of head.matchAll(/<meta\b[^>]*>/gi)) {
    const label = /\bcharset\s*=\s*["']?\s*([\w.:-]+)/i.exec(tag)?.[1];
    const encoding = supportedLabel(label);
    // A meta tag readable as ASCII cannot be in UTF-16 whatever it says (HTML's rule).
    if (encoding) return encoding.startsWith("utf-16") ? "utf-8" : encoding;
  }
  const xml = /^\s*<\?xml\b[^>]*\bencoding\s*=\s*["']([\w.:-]+)["']/i.exec(head)?.[1];
  const encoding = supportedLabel(xml);
  return encoding?.startsWith("utf-16") ? "utf-8" : encoding;
}

function isUtf8(bytes: Uint8Array): boolean {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/**
 * True if the bytes are valid gb18030 and most of their non-ASCII characters are CJK (Latin-1
 * or Shift_JIS text read as gb18030 either fails to decode or turns into rare symbols).
 */
function looksLikeGb18030(bytes: Uint8Array): boolean {
  let text: string;
  try {
    text = new TextDecoder("gb18030", { fatal: true }).decode(bytes);
  } catch {
    return false;
  }
  let nonAscii = 0;
  let cjk = 0;
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (code < 0x80) continue;
    nonAscii++;
    if (
      (code >= 0x4e00 && code <= 0x9fff) || // CJK unified ideographs
      (code >= 0x3000 && code <= 0x303f) || // CJK punctuation
      (code >= 0xff00 && code <= 0xffef) // full-width forms
    ) cjk++;
  }
  return nonAscii > 0 && cjk / nonAscii >= 0.8;
}
