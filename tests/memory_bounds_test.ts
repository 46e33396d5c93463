/**
 * Memory bounds measured in a child process of their own, so the figures are the measured code's
 * and not other tests': a gzip bomb refused with a bounded peak RSS, and strings a rule keeps
 * that do not pin the page they were cut from.
 */
import assert from "node:assert/strict";

Deno.test("a gzip bomb (1 MB to 1 GiB) is refused at 50 MiB with bounded memory", async () => {
  // In a process of its own, so the peak resident size (VmHWM) is this parse's, not other tests'.
  const parser = new URL("../spider/sitemap/sitemap_parser.ts", import.meta.url).href;
  const testFile = new URL("../spider/sitemap/sitemap_parser_test.ts", import.meta.url).href;
  const script = `
    const { parseSitemap } = await import(${JSON.stringify(parser)});
    const { gzipBomb } = await import(${JSON.stringify(testFile)});
    const bomb = await gzipBomb(1024);
    const rssBefore = Deno.memoryUsage().rss;
    const error = await parseSitemap(bomb).then(() => undefined, (e) => e.message);
    const status = Deno.readTextFileSync("/proc/self/status");
    const peak = Number(/VmHWM:\\s+(\\d+) kB/.exec(status)?.[1] ?? NaN) * 1024;
    console.log(JSON.stringify({ bytes: bomb.byteLength, rssBefore, peak, error }));
  `;
  const config = new URL("../deno.json", import.meta.url).pathname;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--config", config, "--ext=ts", script],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, stderr);
  const { bytes, rssBefore, peak, error } = JSON.parse(new TextDecoder().decode(output.stdout));
  assert.ok(bytes < 2_000_000, `${bytes} bytes`);
  assert.match(error, /sitemap over 52428800 bytes once decompressed/);
  if (Number.isFinite(peak)) {
    const grewMiB = (peak - rssBefore) / (1 << 20);
    assert.ok(grewMiB < 64, `peak RSS ${grewMiB.toFixed(0)} MiB over the RSS before the parse`);
  }
});

Deno.test("strings a rule keeps do not hold on to the page they were cut from", async () => {
  // V8 substrings are views of their parent: a kept URL or value must be a copy (see ownString),
  // or 40 results would keep 40 MiB of bodies alive. Measured in a child with a GC to call.
  const script = `
    import { compileRuleSet } from ${
    JSON.stringify(new URL("../spider/declarative/compile_rule_set.ts", import.meta.url).href)
  };
    import { ParseContext } from ${
    JSON.stringify(new URL("../spider/parse_context.ts", import.meta.url).href)
  };
    // Longer than 13 characters: V8 copies shorter substrings anyway.
    const links = Array.from({ length: 300 }, (_, i) => '<a href="/products/item-' + i + '.html">x</a>').join("");
    const body = "<title>a title long enough</title>" + links + "<!--" + "x".repeat(1 << 20) + "-->";
    const ruleSet = compileRuleSet("x", {
      rules: { p: { links: [{ rule: "p" }], output: { fields: { t: { regex: "<title>(.*?)</title>" } } } } },
    });
    const req = { url: "http://site.test/", method: "GET", depth: 0, priority: 0, ruleName: "p", attempt: 0 };
    gc();
    const before = Deno.memoryUsage().heapUsed;
    const kept = [];
    for (let i = 0; i < 40; i++) kept.push(ruleSet.rules.p.parse(new ParseContext("x", req, body + i)));
    gc();
    console.log(Deno.memoryUsage().heapUsed - before, kept.length);
  `;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--v8-flags=--expose-gc", script],
    stdin: "null",
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  const [grown, kept] = new TextDecoder().decode(output.stdout).trim().split(" ").map(Number);
  assert.equal(kept, 40);
  assert.ok(grown < 8 * 1024 * 1024, `the heap grew by ${grown} bytes`);
});
