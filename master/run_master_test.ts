import assert from "node:assert/strict";
import { ConfigError } from "../errors/mod.ts";
import { parseConfig } from "../config/load_config.ts";
import { resolveMasterSettings } from "./run_master.ts";

Deno.test("master settings default to :8081, :9091 and id 1", () => {
  const settings = resolveMasterSettings(parseConfig(""), { advertise: "10.0.0.7" });
  assert.deepEqual(settings, {
    id: "master1-10.0.0.7:9091",
    http: { host: "", port: 8081 },
    grpc: { host: "", port: 9091 },
    advertise: "10.0.0.7",
    sources: { http: "--http", grpc: "--grpc" },
  });
});

Deno.test("flags win over the config's MasterServer section", () => {
  const config = parseConfig(
    `[MasterServer]\nHTTPListenAddress = ":8082"\nGRPCListenAddress = ":9092"\nID = "5"\n`,
  );
  const fromConfig = resolveMasterSettings(config, { advertise: "127.0.0.1" });
  assert.equal(fromConfig.id, "master5-127.0.0.1:9092");
  assert.equal(fromConfig.http.port, 8082);
  assert.equal(fromConfig.sources.grpc, "MasterServer.GRPCListenAddress");
  const fromFlags = resolveMasterSettings(config, {
    id: "2",
    grpc: { host: "127.0.0.1", port: 9093 },
    advertise: "127.0.0.1",
  });
  assert.equal(fromFlags.id, "master2-127.0.0.1:9093");
  assert.equal(fromFlags.sources.grpc, "--grpc");
});

Deno.test("a gRPC port of 0 becomes a real port, since the master id carries it", () => {
  const settings = resolveMasterSettings(parseConfig(""), {
    grpc: { host: "127.0.0.1", port: 0 },
    advertise: "127.0.0.1",
  });
  assert.ok(settings.grpc.port > 0);
  assert.equal(settings.id, `master1-127.0.0.1:${settings.grpc.port}`);
});

Deno.test("an id that would make the master id ambiguous is a ConfigError naming --id", () => {
  assert.throws(
    () => resolveMasterSettings(parseConfig(""), { id: "a-b", advertise: "127.0.0.1" }),
    (error: unknown) =>
      error instanceof ConfigError && /^--id: master id must be/.test(error.message),
  );
});
