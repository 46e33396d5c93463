import assert from "node:assert/strict";
import { buildMasterId, parseMasterId } from "./master_id.ts";

Deno.test("master id is master<id>-<host>:<grpcPort> and parses back to the leader address", () => {
  const id = buildMasterId({ id: "1", host: "192.168.0.105", grpcPort: 9091 });
  assert.equal(id, "master1-192.168.0.105:9091");
  assert.deepEqual(parseMasterId(id), {
    id: "1",
    host: "192.168.0.105",
    grpcPort: 9091,
    address: "192.168.0.105:9091",
  });
});

Deno.test("master ids with hostnames containing '-' and IPv6 hosts round-trip", () => {
  const named = buildMasterId({ id: "2", host: "crawler-master-b.local", grpcPort: 9092 });
  assert.equal(parseMasterId(named)?.address, "crawler-master-b.local:9092");
  const v6 = buildMasterId({ id: "a_1", host: "::1", grpcPort: 9093 });
  assert.equal(v6, "mastera_1-[::1]:9093");
  assert.deepEqual(parseMasterId(v6), {
    id: "a_1",
    host: "::1",
    grpcPort: 9093,
    address: "[::1]:9093",
  });
});

Deno.test("values that are not master ids do not parse", () => {
  for (
    const value of [
      "",
      "master1",
      "master-127.0.0.1:9091",
      "master1-127.0.0.1",
      "m1-h:1",
      "master1-h:0",
      "master1-h:70000",
    ]
  ) {
    assert.equal(parseMasterId(value), undefined, value);
  }
});

Deno.test("master ids that would be ambiguous are refused", () => {
  assert.throws(() => buildMasterId({ id: "1-2", host: "h", grpcPort: 1 }), /master id must be/);
  assert.throws(() => buildMasterId({ id: "1", host: "", grpcPort: 1 }), /host/);
  assert.throws(() => buildMasterId({ id: "1", host: "h", grpcPort: 0 }), /port/);
});
