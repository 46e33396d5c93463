/**
 * @module
 * A fetched body decoded piece by piece, so a streaming pass that stops early (it found the
 * `<title>` it was asked for) never pays for decoding the rest of a large page.
 */
import { detectCharset } from "../charset.ts";

/** Bytes decoded per piece: small enough to stop early, large enough to cost nothing per piece. */
const PIECE_BYTES = 16 * 1024;

/**
 * The text of `raw` in the charset `decodeBody` would use, in pieces whose concatenation is
 * exactly `decodeBody(raw, contentType)`.
 */
export function* decodePieces(
  raw: Uint8Array,
  contentType: string | null | undefined,
  pieceBytes = PIECE_BYTES,
): Generator<string> {
  const decoder = new TextDecoder(detectCharset(raw, contentType).encoding);
  for (let start = 0; start < raw.byteLength; start += pieceBytes) {
    const piece = decoder.decode(raw.subarray(start, start + pieceBytes), { stream: true });
    if (piece !== "") yield piece;
  }
  const rest = decoder.decode();
  if (rest !== "") yield rest;
}
