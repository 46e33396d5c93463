import assert from "node:assert/strict";
import { parseFlags } from "./flags.ts";

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

Deno.test("bad flags name the flag and what was expected", () => {
  assert.throws(() => parseFlags("dev", ["--id=1"]), /^ConfigError: --id: unknown flag/);
  assert.throws(() => parseFlags("master", ["--http=8080"]), /--http: expected :PORT or HOST:PORT/);
  assert.throws(() => parseFlags("master", ["--http=:99999"]), /--http: expected/);
  assert.throws(() => parseFlags("worker", ["--cluster=yes"]), /--cluster: expected true or false/);
  assert.throws(() => parseFlags("master", ["--etcd=localhost"]), /--etcd: expected/);
  assert.throws(() => parseFlags("master", ["--config"]), /--config: expected a value/);
  assert.throws(() => parseFlags("master", ["stray"]), /stray: unexpected argument/);
});
