import assert from "node:assert/strict";
import { GRPCInternalError, GRPCUnavailableError } from "etcd3";
import { isConnectionError } from "./_etcd_kv.ts";

/** An error as grpc-js emits it on a stream: a plain Error with a numeric status code. */
function raw(code: number, message: string): Error {
  return Object.assign(new Error(message), { code, details: message });
}

Deno.test("raw grpc-js UNAVAILABLE, CANCELLED and RST_STREAM errors count as connection errors", () => {
  assert.ok(isConnectionError(raw(14, "14 UNAVAILABLE: No connection established")));
  assert.ok(isConnectionError(raw(1, "1 CANCELLED: Call cancelled")));
  assert.ok(isConnectionError(raw(13, "13 INTERNAL: Received RST_STREAM with code 2")));
  assert.ok(isConnectionError(new Error("keep-alive stream ended")));
  assert.ok(isConnectionError(new Error("read ECONNRESET")));
  assert.ok(isConnectionError(new GRPCUnavailableError("14 UNAVAILABLE: connect ECONNREFUSED")));
  assert.ok(isConnectionError(new GRPCInternalError("13 INTERNAL: Received RST_STREAM")));
});

Deno.test("request failures are not connection errors", () => {
  assert.equal(isConnectionError(raw(13, "13 INTERNAL: invalid response")), false);
  assert.equal(isConnectionError(raw(3, "3 INVALID_ARGUMENT: bad key")), false);
  assert.equal(isConnectionError(new GRPCInternalError("13 INTERNAL: decoding failed")), false);
  assert.equal(isConnectionError(new Error("etcd cancelled the watch: no reason given")), false);
  assert.equal(isConnectionError(new TypeError("x is undefined")), false);
});
