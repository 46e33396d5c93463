import assert from "node:assert/strict";
import { parseConfig } from "./load_config.ts";
import { closest, formatUnknownKey, type UnknownKey } from "./unknown_keys.ts";

function unknownKeys(text: string): string[] {
  const keys: UnknownKey[] = [];
  parseConfig(text, "config.toml", { onUnknownKey: (key) => keys.push(key) });
  return keys.map(formatUnknownKey);
}

Deno.test("a misspelt config key is reported with the closest known key", () => {
  assert.deepEqual(
    unknownKeys(`
logLevl = "debug"
Tasks = [{Name = "t", URL = "http://127.0.0.1/", MaxDeph = 3}]
[fetcher]
concurency = 4
[GRPCServer]
RegisterTTL = 10
Nmae = "w"
[auth]
tokn = "x"
[mysql]
host = "db"
`),
    [
      "logLevl: unknown key; did you mean logLevel?",
      "Tasks[0].MaxDeph: unknown key; did you mean MaxDepth?",
      "fetcher.concurency: unknown key; did you mean concurrency?",
      "GRPCServer.Nmae: unknown key; did you mean Name?",
      "auth.tokn: unknown key; did you mean token?",
      "mysql: unknown key",
    ],
  );
});

Deno.test("a config with only known keys reports nothing", () => {
  const repo = Deno.readTextFileSync(new URL("../config.toml", import.meta.url));
  assert.deepEqual(unknownKeys(repo), []);
  const demo = Deno.readTextFileSync(new URL("../examples/demo.toml", import.meta.url));
  assert.deepEqual(unknownKeys(demo), []);
  for (const name of ["douban.toml", "cluster.toml"]) {
    const text = Deno.readTextFileSync(new URL(`../examples/${name}`, import.meta.url));
    assert.deepEqual(unknownKeys(text), [], name);
  }
});

Deno.test("closest only suggests a key near enough to be a typo", () => {
  assert.equal(closest("MaxDeph", ["URL", "MaxDepth", "Name"]), "MaxDepth");
  assert.equal(closest("url", ["URL", "Name"]), "URL");
  assert.equal(closest("database", ["URL", "Name"]), undefined);
});
