import assert from "node:assert/strict";
import { decodeBody } from "../charset.ts";
import { decodePieces } from "./_decode_pieces.ts";
import { encodeGbk } from "../../tests/gbk_encode.ts";

Deno.test("pieces join to the decoded body, multi-byte characters split across pieces included", () => {
  const text = "<title>价格 ¥12 — naïve 🙂</title>" + "数据".repeat(50);
  const cases: Array<[Uint8Array, string | null]> = [
    [new TextEncoder().encode(text), "text/html; charset=utf-8"],
    [new TextEncoder().encode("\ufeff" + text), null],
    [encodeGbk("<title>价格 12</title>" + "数据".repeat(50)), "text/html; charset=gbk"],
  ];
  for (const [bytes, contentType] of cases) {
    for (const size of [1, 2, 3, 7, 1024]) {
      assert.equal(
        [...decodePieces(bytes, contentType, size)].join(""),
        decodeBody(bytes, contentType),
      );
    }
  }
});
