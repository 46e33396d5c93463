import assert from "node:assert/strict";
import { DASHBOARD_EXAMPLE_SPEC, dashboardPage } from "./dashboard_page.ts";

Deno.test("the dashboard page is self-contained and its script parses", () => {
  const page = dashboardPage();
  // Nothing is loaded from elsewhere: no external script, style, font or image.
  assert.doesNotMatch(page, /<(script|link|img)[^>]+(src|href)=/i);
  const script = page.match(/<script>([\s\S]*)<\/script>/)?.[1];
  assert.ok(script, "the page has its script inline");
  // Escapes inside the TypeScript template literal are easy to get wrong: parse what is served.
  new Function(script);
  const example = page.match(/<textarea[^>]*>([\s\S]*?)<\/textarea>/)?.[1] ?? "";
  assert.deepEqual(
    JSON.parse(example.replaceAll("&lt;", "<").replaceAll("&amp;", "&")),
    DASHBOARD_EXAMPLE_SPEC,
  );
});
