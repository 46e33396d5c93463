/**
 * @module
 * The layers of the product code and the test that holds the code to them (docs/layout.md).
 * A module imports only from its own layer or below, and no two top-level folders import each
 * other (not even in one layer, and not through a third). Tests, benchmarks and examples are
 * not product code: they may import anything.
 *
 * The import graph comes from `deno info --json` over one entry module that imports every
 * product module, so modules `main.ts` does not reach statically (a worker script, a folder's
 * `mod.ts`, the dashboard's browser code) are held to the layers too.
 */
import assert from "node:assert/strict";

/** One layer: a name for messages and the top-level folders (or root files) in it. */
export interface Layer {
  name: string;
  parts: readonly string[];
}

/**
 * The layers, bottom to top: the one table of them. A part is a top-level folder of the
 * product code (its subfolders belong to it) or a `.ts` file at the root.
 */
export const LAYERS: readonly Layer[] = [
  { name: "base", parts: ["version.ts", "log"] },
  { name: "primitives", parts: ["errors", "async"] },
  { name: "connections", parts: ["store", "db"] },
  { name: "queue", parts: ["frontier"] },
  { name: "engine", parts: ["spider"] },
  { name: "engine adapters", parts: ["storage", "metrics", "rulesets", "proto"] },
  { name: "config", parts: ["config"] },
  { name: "access", parts: ["auth"] },
  { name: "roles", parts: ["master", "worker"] },
  { name: "commands", parts: ["dev", "export"] },
  { name: "entry", parts: ["main.ts"] },
];

/**
 * Top-level folders that are not product code, and are not checked: `vendor/` holds copies of
 * third-party packages (a patched postgres.js), which sit below every layer as npm packages do.
 */
const NOT_PRODUCT = new Set([
  "tests",
  "bench",
  "examples",
  "docs",
  "data",
  "dist",
  "node_modules",
  "vendor",
]);

/** One import: both modules as paths relative to the repository root. */
export interface Import {
  from: string;
  to: string;
}

/** The part (top-level folder or root file) a repository path belongs to. */
function partOf(path: string): string {
  return path.split("/")[0];
}

/**
 * What is wrong with `imports` under `layers`, one message per problem; empty when nothing is.
 * Problems: a part with no layer, an import that climbs to a higher layer, and a cycle between
 * parts (each named with one import per step, so the fix can start from a file).
 */
export function layerViolations(
  imports: readonly Import[],
  layers: readonly Layer[] = LAYERS,
): string[] {
  const layerOf = new Map<string, number>();
  layers.forEach((layer, index) => layer.parts.forEach((part) => layerOf.set(part, index)));
  const describe = (part: string) => `"${layers[layerOf.get(part)!].name}"`;
  const problems: string[] = [];
  const unplaced = new Set<string>();
  /** One import standing for each pair of parts, the first seen. */
  const between = new Map<string, Import>();
  for (const edge of imports) {
    const from = partOf(edge.from);
    const to = partOf(edge.to);
    for (const part of [from, to]) {
      if (!layerOf.has(part) && !unplaced.has(part)) {
        unplaced.add(part);
        problems.push(
          `${part} (${part === from ? edge.from : edge.to}) has no layer: ` +
            `add it to LAYERS in tests/layers_test.ts and to docs/layout.md`,
        );
      }
    }
    if (from === to || !layerOf.has(from) || !layerOf.has(to)) continue;
    if (layerOf.get(to)! > layerOf.get(from)!) {
      problems.push(
        `${edge.from} (layer ${describe(from)}) imports ${edge.to} (layer ${describe(to)}), ` +
          `a higher layer`,
      );
    }
    if (!between.has(`${from} ${to}`)) between.set(`${from} ${to}`, edge);
  }
  for (const cycle of partCycles(between)) {
    const steps = cycle.map((edge) => `${edge.from} imports ${edge.to}`).join(", ");
    const parts = cycle.map((edge) => partOf(edge.from));
    problems.push(`${[...parts, parts[0]].join(" -> ")} import each other: ${steps}`);
  }
  return problems;
}

/** Every cycle between parts once (by its smallest part), each as one import per step. */
function partCycles(between: ReadonlyMap<string, Import>): Import[][] {
  const next = new Map<string, string[]>();
  for (const key of between.keys()) {
    const [from, to] = key.split(" ");
    next.set(from, [...(next.get(from) ?? []), to]);
  }
  const cycles: Import[][] = [];
  const seen = new Set<string>();
  const walk = (start: string, path: string[]) => {
    for (const to of next.get(path.at(-1)!) ?? []) {
      if (to === start) {
        const key = [...path].sort().join(" ");
        if (seen.has(key)) continue;
        seen.add(key);
        cycles.push(path.map((from, i) => between.get(`${from} ${path[i + 1] ?? start}`)!));
      } else if (to > start && !path.includes(to)) {
        walk(start, [...path, to]);
      }
    }
  };
  for (const start of [...next.keys()].sort()) walk(start, [start]);
  return cycles;
}

/** Every product module, as paths relative to `root`: `.ts` files outside tests and the like. */
async function productModules(root: URL): Promise<string[]> {
  const found: string[] = [];
  const visit = async (dir: string) => {
    for await (const entry of Deno.readDir(new URL(dir || ".", root))) {
      const path = dir ? `${dir}/${entry.name}` : entry.name;
      if (entry.name.startsWith(".")) continue;
      if (entry.isDirectory && (dir || !NOT_PRODUCT.has(entry.name))) await visit(path);
      if (entry.isFile && path.endsWith(".ts") && !path.endsWith("_test.ts")) found.push(path);
    }
  };
  await visit("");
  return found.sort();
}

/** The imports among the product modules under `root`, read with `deno info --json`. */
async function productImports(root: URL): Promise<Import[]> {
  const modules = await productModules(root);
  const entry = await Deno.makeTempFile({ prefix: "layers_entry_", suffix: ".ts" });
  try {
    await Deno.writeTextFile(
      entry,
      modules.map((path) => `import "${new URL(path, root).href}";\n`).join(""),
    );
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", "--config", new URL("deno.json", root).pathname, entry],
      cwd: root.pathname,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    assert.ok(output.success, `deno info failed: ${stderr}`);
    const graph = JSON.parse(new TextDecoder().decode(output.stdout)) as DenoInfo;
    // A module outside the product folders (vendor/) counts as a package, as npm ones do.
    const local = (specifier: string | undefined) => {
      if (!specifier?.startsWith(root.href)) return undefined;
      const path = specifier.slice(root.href.length);
      return NOT_PRODUCT.has(partOf(path)) ? undefined : path;
    };
    const imports: Import[] = [];
    for (const module of graph.modules) {
      const from = local(module.specifier);
      if (from === undefined) continue;
      for (const dependency of module.dependencies ?? []) {
        for (const to of new Set([dependency.code?.specifier, dependency.type?.specifier])) {
          const path = local(to);
          if (path !== undefined) imports.push({ from, to: path });
        }
      }
    }
    return imports;
  } finally {
    await Deno.remove(entry);
  }
}

/** The part of `deno info --json` read here. */
interface DenoInfo {
  modules: Array<{
    specifier: string;
    dependencies?: Array<{ code?: { specifier?: string }; type?: { specifier?: string } }>;
  }>;
}

Deno.test("no product module imports from a higher layer, and no two folders import each other", async () => {
  const root = new URL("../", import.meta.url);
  const imports = await productImports(root);
  const problems = layerViolations(imports);
  assert.ok(imports.length > 500, `the graph looks too small: ${imports.length} imports`);
  if (problems.length > 0) assert.fail(`the layers are broken:\n  ${problems.join("\n  ")}`);
  const parts = new Set(LAYERS.flatMap((layer) => layer.parts));
  const present = new Set(imports.flatMap((edge) => [partOf(edge.from), partOf(edge.to)]));
  const stale = [...parts].filter((part) => !present.has(part));
  if (stale.length > 0) assert.fail(`LAYERS names parts no product module is in: ${stale}`);
});

Deno.test("the layer check names the file, the import and both layers of each break", () => {
  const layers: Layer[] = [
    { name: "bottom", parts: ["a"] },
    { name: "middle", parts: ["b", "c"] },
    { name: "top", parts: ["d"] },
  ];
  assert.deepEqual(
    layerViolations([
      { from: "a/x.ts", to: "a/y.ts" },
      { from: "b/x.ts", to: "a/x.ts" },
      { from: "d/x.ts", to: "b/x.ts" },
    ], layers),
    [],
  );
  assert.deepEqual(
    layerViolations([
      { from: "a/x.ts", to: "d/main.ts" },
      { from: "b/x.ts", to: "c/y.ts" },
      { from: "c/y.ts", to: "b/z.ts" },
      { from: "b/x.ts", to: "e/new.ts" },
    ], layers),
    [
      'a/x.ts (layer "bottom") imports d/main.ts (layer "top"), a higher layer',
      "e (e/new.ts) has no layer: add it to LAYERS in tests/layers_test.ts and to docs/layout.md",
      "b -> c -> b import each other: b/x.ts imports c/y.ts, c/y.ts imports b/z.ts",
    ],
  );
});
