/**
 * @module
 * A strict parser of the Prometheus text exposition format (0.0.4), for tests: it rejects what
 * a Prometheus server would (bad names, bad escapes, `Nan`, samples without a TYPE, repeated
 * series, histogram buckets out of order), so a test that parses `/metrics` proves a scraper
 * can read it.
 */

/** One sample line. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A metric family: its TYPE, HELP and samples. */
export interface Family {
  name: string;
  type: "counter" | "gauge" | "histogram" | "summary" | "untyped";
  help?: string;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

/** Parses `text`; throws an Error naming the line for anything a scraper would reject. */
export function parsePrometheusText(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  if (text !== "" && !text.endsWith("\n")) throw new Error("the text must end with a newline");
  const lines = text.split("\n");
  lines.forEach((line, i) => {
    const where = `line ${i + 1}: ${JSON.stringify(line)}`;
    if (line.trim() === "") return;
    if (line.startsWith("#")) {
      const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!meta) return; // a plain comment
      const [, kind, name, rest] = meta;
      if (!METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name`);
      const family = families.get(name) ?? { name, type: "untyped" as const, samples: [] };
      if (kind === "TYPE") {
        if (!TYPES.has(rest)) throw new Error(`${where}: unknown type`);
        if (family.samples.length > 0) throw new Error(`${where}: TYPE after samples`);
        family.type = rest as Family["type"];
      } else {
        family.help = rest;
      }
      families.set(name, family);
      return;
    }
    const sample = parseSample(line, where);
    const family = familyOf(sample.name, families);
    if (!family) throw new Error(`${where}: no TYPE for ${sample.name}`);
    const key = sample.name + JSON.stringify(Object.entries(sample.labels).sort());
    if (seen.has(key)) throw new Error(`${where}: repeated series`);
    seen.add(key);
    family.samples.push(sample);
  });
  for (const family of families.values()) {
    if (family.type === "histogram") checkHistogram(family);
    if (family.type === "counter") {
      for (const s of family.samples) {
        if (!(s.value >= 0)) throw new Error(`${s.name}: a counter must be >= 0, got ${s.value}`);
      }
    }
  }
  return families;
}

function familyOf(name: string, families: Map<string, Family>): Family | undefined {
  const exact = families.get(name);
  if (exact) return exact;
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (!name.endsWith(suffix)) continue;
    const base = families.get(name.slice(0, -suffix.length));
    if (base && (base.type === "histogram" || base.type === "summary")) return base;
  }
  return undefined;
}

function parseSample(line: string, where: string): Sample {
  const head = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
  if (!head) throw new Error(`${where}: bad metric name`);
  const name = head[1];
  let at = name.length;
  const labels: Record<string, string> = {};
  if (line[at] === "{") {
    at++;
    while (line[at] !== "}") {
      const label = /^([^=\s]+)="/.exec(line.slice(at));
      if (!label || !LABEL_NAME.test(label[1])) throw new Error(`${where}: bad label name`);
      at += label[0].length;
      let value = "";
      for (;;) {
        const c = line[at++];
        if (c === undefined) throw new Error(`${where}: unterminated label value`);
        if (c === '"') break;
        if (c === "\\") {
          const next = line[at++];
          if (next === "n") value += "\n";
          else if (next === "\\" || next === '"') value += next;
          else throw new Error(`${where}: bad escape \\${next}`);
        } else value += c;
      }
      if (Object.hasOwn(labels, label[1])) throw new Error(`${where}: repeated label`);
      labels[label[1]] = value;
      if (line[at] === ",") at++;
      else if (line[at] !== "}") throw new Error(`${where}: expected , or }`);
    }
    at++;
  }
  const rest = line.slice(at);
  const parts = /^ (\S+)(?: (-?\d+))?$/.exec(rest);
  if (!parts) throw new Error(`${where}: expected " <value> [timestamp]"`);
  return { name, labels, value: parseValue(parts[1], where) };
}

function parseValue(text: string, where: string): number {
  if (text === "NaN") return NaN;
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) {
    throw new Error(`${where}: bad value ${JSON.stringify(text)}`);
  }
  return Number(text);
}

function checkHistogram(family: Family): void {
  const groups = new Map<string, { buckets: Array<[number, number]>; count?: number }>();
  for (const s of family.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const group = groups.get(key) ?? { buckets: [] };
    groups.set(key, group);
    if (s.name === `${family.name}_bucket`) {
      if (le === undefined) throw new Error(`${s.name}: a bucket needs le`);
      group.buckets.push([parseValue(le, s.name), s.value]);
    } else if (s.name === `${family.name}_count`) group.count = s.value;
  }
  for (const group of groups.values()) {
    const sorted = [...group.buckets].sort((a, b) => a[0] - b[0]);
    sorted.forEach(([, value], i) => {
      if (i > 0 && value < sorted[i - 1][1]) throw new Error(`${family.name}: buckets decrease`);
    });
    const inf = sorted.at(-1);
    if (!inf || inf[0] !== Infinity) throw new Error(`${family.name}: no +Inf bucket`);
    if (group.count !== inf[1]) throw new Error(`${family.name}: +Inf bucket != _count`);
  }
}
