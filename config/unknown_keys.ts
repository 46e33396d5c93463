/**
 * @module
 * Finds the keys of a config file that its schema does not know (a typo like `MaxDeph` would
 * otherwise be dropped without a word), each with the closest key it does know.
 */
import type { z } from "zod";

/** A key the schema does not know. */
export interface UnknownKey {
  /** Where it is, e.g. `Tasks[0].MaxDeph`. */
  path: string;
  /** The closest known key at that level, when one is close enough to be a likely typo. */
  suggestion?: string;
}

/** `Tasks[0].MaxDeph: unknown key; did you mean MaxDepth?` */
export function formatUnknownKey(key: UnknownKey): string {
  return `${key.path}: unknown key` + (key.suggestion ? `; did you mean ${key.suggestion}?` : "");
}

/**
 * Walks `value` (parsed TOML) alongside `schema` and lists every object key the schema has no
 * field for. Strict objects are skipped: zod already rejects their unknown keys as errors.
 */
export function findUnknownKeys(schema: z.ZodType, value: unknown): UnknownKey[] {
  const found: UnknownKey[] = [];
  walk(schema, value, "", found);
  return found;
}

interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  options?: z.ZodType[];
  catchall?: z.ZodType;
}

function defOf(schema: z.ZodType): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

function walk(schema: z.ZodType, value: unknown, path: string, found: UnknownKey[]): void {
  const def = defOf(schema);
  switch (def.type) {
    case "optional":
    case "nullable":
    case "default":
    case "prefault":
    case "readonly":
    case "catch":
      return walk(def.innerType!, value, path, found);
    case "pipe":
      return walk(def.in!, value, path, found);
    case "array":
      if (Array.isArray(value)) {
        value.forEach((item, i) => walk(def.element!, item, `${path}[${i}]`, found));
      }
      return;
    case "union":
      // Only a union of objects has keys to check: a key is known if any member knows it.
      return walkObject(objectShapes(def.options ?? []), value, path, found);
    case "object":
      if (def.catchall !== undefined && defOf(def.catchall).type === "never") return; // strict
      return walkObject([def.shape!], value, path, found);
  }
}

function objectShapes(options: z.ZodType[]): Array<Record<string, z.ZodType>> {
  const shapes: Array<Record<string, z.ZodType>> = [];
  for (const option of options) {
    const def = defOf(option);
    if (def.type === "object" && def.shape) shapes.push(def.shape);
  }
  return shapes;
}

function walkObject(
  shapes: Array<Record<string, z.ZodType>>,
  value: unknown,
  path: string,
  found: UnknownKey[],
): void {
  if (shapes.length === 0 || typeof value !== "object" || value === null || Array.isArray(value)) {
    return;
  }
  const known = shapes.flatMap((shape) => Object.keys(shape));
  for (const [key, child] of Object.entries(value)) {
    const childPath = path ? `${path}.${key}` : key;
    const shape = shapes.find((s) => Object.hasOwn(s, key));
    if (shape) {
      walk(shape[key], child, childPath, found);
      continue;
    }
    const suggestion = closest(key, known);
    found.push(suggestion ? { path: childPath, suggestion } : { path: childPath });
  }
}

/** The known key nearest to `key` by edit distance (case-insensitive), if it is near enough. */
export function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const distance = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  // A third of the key's length, at least 1 and at most 3: `MaxDeph` → `MaxDepth`, not `URL`.
  const limit = Math.min(3, Math.max(1, Math.floor(key.length / 3)));
  return bestDistance <= limit ? best : undefined;
}

/** Edit distance where swapping two neighbouring letters (`Nmae`) counts as one edit. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 0; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(
        d[i - 1][j] + 1,
        d[i][j - 1] + 1,
        d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}
