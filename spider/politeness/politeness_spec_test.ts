import assert from "node:assert/strict";
import { taskSpecSchema } from "../../proto/task_spec.ts";
import { taskDefinitionFromSpec } from "../../worker/task_resolver.ts";

Deno.test("an API spec sets robots, politeness and the random user agent, built-in or declarative", () => {
  const builtin = taskSpecSchema.parse({
    rule: "douban_book_list",
    robots: false,
    politeness: { delayMs: 250, perHostConcurrency: 2 },
    randomUserAgent: true,
  });
  assert.deepEqual(taskDefinitionFromSpec("t", builtin).politeness, {
    robots: false,
    delayMs: 250,
    perHostConcurrency: 2,
    randomUserAgent: true,
  });
  const declarative = taskSpecSchema.parse({
    url: "http://127.0.0.1:1/",
    rules: { page: { links: [{ rule: "page" }] } },
    politeness: { delayMs: 1000 },
  });
  assert.deepEqual(taskDefinitionFromSpec("d", declarative).politeness, {
    robots: undefined,
    delayMs: 1000,
    perHostConcurrency: undefined,
    randomUserAgent: undefined,
  });
  assert.equal(
    taskDefinitionFromSpec("n", taskSpecSchema.parse({ rule: "x" })).politeness,
    undefined,
  );
});

Deno.test("a bad politeness value in a spec names the field", () => {
  for (
    const [spec, path] of [
      [{ rule: "x", politeness: { delayMs: -1 } }, "politeness.delayMs"],
      [{ rule: "x", politeness: { perHostConcurrency: 0 } }, "politeness.perHostConcurrency"],
      [{ rule: "x", politeness: { delay: 5 } }, "politeness"],
      [{ rule: "x", robots: "no" }, "robots"],
    ] as const
  ) {
    const result = taskSpecSchema.safeParse(spec);
    assert.equal(result.success, false, JSON.stringify(spec));
    assert.equal(result.error!.issues[0].path.join("."), path, JSON.stringify(spec));
  }
});
