import assert from "node:assert/strict";
import { parseCommandLine, parseFlags } from "./flags.ts";
import { VERSION } from "../version.ts";

Deno.test("flags accept --flag=value and --flag value", () => {
  const flags = parseFlags("master", ["--id=2", "--http", ":8082", "--grpc=127.0.0.1:9092"]);
  assert.equal(flags.id, "2");
  assert.deepEqual(flags.http, { host: "", port: 8082 });
  assert.deepEqual(flags.grpc, { host: "127.0.0.1", port: 9092 });
});

Deno.test("flags parse etcd endpoints and booleans", () => {
  const flags = parseFlags("worker", ["--etcd=127.0.0.1:2379,127.0.0.1:22379", "--cluster=false"]);
  assert.deepEqual(flags.etcd, ["127.0.0.1:2379", "127.0.0.1:22379"]);
  assert.equal(flags.cluster, false);
  assert.equal(parseFlags("worker", ["--cluster"]).cluster, true);
  assert.equal(parseFlags("worker", ["--cluster", "false"]).cluster, false);
});

Deno.test("--once is a worker flag: recrawl tasks crawl each page once", () => {
  assert.equal(parseFlags("worker", ["--cluster=false", "--once"]).once, true);
  assert.equal(parseFlags("worker", ["--cluster=false", "--once=false"]).once, false);
  assert.equal(parseFlags("worker", ["--cluster=false"]).once, undefined);
  assert.throws(() => parseFlags("dev", ["--once"]), /^ConfigError: --once: unknown flag/);
});

Deno.test("bad flags name the flag and what was expected", () => {
  assert.throws(() => parseFlags("dev", ["--id=1"]), /^ConfigError: --id: unknown flag/);
  assert.throws(() => parseFlags("master", ["--http=8080"]), /--http: expected :PORT or HOST:PORT/);
  assert.throws(() => parseFlags("master", ["--http=:99999"]), /--http: expected/);
  assert.throws(() => parseFlags("worker", ["--cluster=yes"]), /--cluster: expected true or false/);
  assert.throws(() => parseFlags("master", ["--etcd=localhost"]), /--etcd: expected/);
  assert.throws(() => parseFlags("master", ["--config"]), /--config: expected a value/);
  assert.throws(() => parseFlags("master", ["stray"]), /stray: unexpected argument/);
});

Deno.test("crawler <role> --help describes every flag with its default", () => {
  for (const role of ["master", "worker", "dev"] as const) {
    const line = parseCommandLine([role, "--help"]);
    assert.equal(line.action, "print");
    const text = line.action === "print" ? line.text : "";
    assert.match(text, new RegExp(`^Usage: crawler ${role} \\[flags\\]`));
    const flags = [...text.matchAll(/^\s+(--[a-z]+)/gm)].map((m) => m[1]);
    assert.ok(flags.includes("--config") && flags.includes("--insecure"), text);
    // Every flag's description (it may wrap) states its default; --help has none.
    const described = text.split(/\n(?=\s+-)/).filter((block) => /^\s+--(?!help)/.test(block));
    assert.equal(described.length, flags.length);
    for (const block of described) assert.match(block, /\(default:\s[^)]+\)/, block);
  }
  const worker = parseCommandLine(["worker", "-h"]);
  assert.match(worker.action === "print" ? worker.text : "", /--cluster \[true\|false\]/);
});

Deno.test("crawler --help lists the commands and --version prints the version", () => {
  const help = parseCommandLine(["--help"]);
  assert.match(help.action === "print" ? help.text : "", /master.*\n.*worker.*\n.*dev/);
  const version = parseCommandLine(["--version"]);
  assert.deepEqual(version, { action: "print", text: `crawler ${VERSION}` });
  assert.throws(() => parseCommandLine(["serve"]), /^ConfigError: serve: unknown command/);
});

Deno.test("--insecure is a flag of every role that listens", () => {
  assert.equal(parseFlags("master", ["--insecure"]).insecure, true);
  assert.equal(parseFlags("worker", ["--insecure=false"]).insecure, false);
  assert.equal(parseFlags("dev", ["--insecure", "--http=:8080"]).insecure, true);
});

Deno.test("crawler export checks its flags; --task is required, jsonl the default format", () => {
  const line = parseCommandLine([
    "export",
    "--task=books",
    "--format",
    "csv",
    "--out=books.csv",
    "--since=2026-01-02T03:04:05Z",
    "--fields=书名, url",
    "--config=c.toml",
  ]);
  assert.deepEqual(line, {
    action: "export",
    flags: {
      task: "books",
      format: "csv",
      out: "books.csv",
      since: new Date("2026-01-02T03:04:05Z"),
      fields: ["书名", "url"],
      config: "c.toml",
    },
  });
  assert.deepEqual(parseCommandLine(["export", "--task=t"]), {
    action: "export",
    flags: { task: "t", format: "jsonl" },
  });
  const bad = (args: string[], message: RegExp) =>
    assert.throws(() => parseCommandLine(["export", ...args]), message);
  bad([], /^ConfigError: --task: required/);
  bad(["--task=t", "--format=xml"], /--format: expected jsonl or csv, got "xml"/);
  bad(["--task=t", "--since=yesterday"], /--since: expected an ISO 8601 date/);
  bad(["--task=t", "--since=2026-13-45"], /--since: expected an ISO 8601 date/);
  bad(["--task=t", "--fields=a,,b"], /--fields: expected column names/);
  bad(["--task=t", "--http=:80"], /--http: unknown flag for "crawler export"/);
  const help = parseCommandLine(["export", "--help"]);
  assert.match(help.action === "print" ? help.text : "", /--since <ISO>[\s\S]*\(default:/);
  const usage = parseCommandLine(["--help"]);
  assert.match(usage.action === "print" ? usage.text : "", /^ {2}export {2}write a task's stored/m);
});
