import assert from "node:assert/strict";
import { productToken } from "./user_agent_token.ts";

Deno.test("product token is the user agent's leading name, lower-cased", () => {
  assert.equal(productToken("crawler/0.1.0 (+https://x.test)"), "crawler");
  assert.equal(productToken("My_Bot-2 (+https://x.test)"), "my_bot-");
  assert.equal(productToken("Googlebot"), "googlebot");
  assert.equal(productToken("/weird"), "");
});
