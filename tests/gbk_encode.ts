/**
 * @module
 * A GBK encoder for test fixtures. Deno can decode GBK but not encode it, so the table is
 * built once by decoding every two-byte GBK sequence and inverting the result.
 */

let table: Map<string, [number, number]> | undefined;

function gbkTable(): Map<string, [number, number]> {
  if (table) return table;
  table = new Map();
  const decoder = new TextDecoder("gbk");
  for (let lead = 0x81; lead <= 0xfe; lead++) {
    for (let trail = 0x40; trail <= 0xfe; trail++) {
      if (trail === 0x7f) continue;
      const char = decoder.decode(new Uint8Array([lead, trail]));
      if (char.length === 1 && char !== "\ufffd" && !table.has(char)) {
        table.set(char, [lead, trail]);
      }
    }
  }
  return table;
}

/** Encodes `text` as GBK; throws on a character GBK cannot represent. */
export function encodeGbk(text: string): Uint8Array {
  const map = gbkTable();
  const out: number[] = [];
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (code < 0x80) {
      out.push(code);
      continue;
    }
    const pair = map.get(char);
    if (!pair) throw new RangeError(`no GBK encoding for ${JSON.stringify(char)}`);
    out.push(pair[0], pair[1]);
  }
  return new Uint8Array(out);
}
