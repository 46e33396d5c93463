import assert from "node:assert/strict";
import { status } from "@grpc/grpc-js";
import {
  BodyTooLargeError,
  ConflictError,
  errorFromGrpc,
  errorOfKind,
  errorReply,
  IdempotencyKeyReusedError,
  InvalidArgumentError,
  NoResultsError,
  NotFoundError,
  NotLeaderError,
  NoWorkerError,
  ResultsUnavailableError,
  StoreUnavailableError,
  UNEXPECTED_ERROR_KIND,
} from "./mod.ts";

Deno.test("each error type maps to one HTTP status and one gRPC code with its message", () => {
  const cases: Array<[Error, number, status]> = [
    [new InvalidArgumentError("name: required"), 400, status.INVALID_ARGUMENT],
    [new NotFoundError('resource "x" does not exist'), 404, status.NOT_FOUND],
    [new ConflictError('resource "x" already exists'), 409, status.ALREADY_EXISTS],
    [new IdempotencyKeyReusedError("key k: another request"), 422, status.FAILED_PRECONDITION],
    [new NotLeaderError("no leader"), 503, status.UNAVAILABLE],
    [new NoWorkerError(), 503, status.UNAVAILABLE],
    [new BodyTooLargeError("too big"), 413, status.RESOURCE_EXHAUSTED],
    [new StoreUnavailableError("etcd down"), 503, status.UNAVAILABLE],
    [new NoResultsError("books"), 404, status.NOT_FOUND],
    [new ResultsUnavailableError("worker w1 did not answer"), 503, status.UNAVAILABLE],
  ];
  for (const [error, httpStatus, grpcCode] of cases) {
    const reply = errorReply(error);
    assert.equal(reply.status, httpStatus, error.name);
    assert.equal(reply.grpcCode, grpcCode, error.name);
    assert.equal(reply.message, error.message);
    assert.equal(reply.kind, error.name);
  }
});

Deno.test("unexpected errors are a 500 that does not leak their details", () => {
  const reply = errorReply(new TypeError("cannot read x of undefined"));
  assert.deepEqual(reply, {
    status: 500,
    grpcCode: status.INTERNAL,
    message: "internal error",
    kind: undefined,
  });
  assert.equal(errorReply("a string").status, 500);
});

Deno.test("an error relayed over gRPC comes back as the same type and message", () => {
  for (
    const error of [
      new ConflictError("taken"),
      new NoWorkerError(),
      new NotFoundError("gone"),
      new IdempotencyKeyReusedError("key k: another request"),
    ]
  ) {
    const reply = errorReply(error);
    const back = errorFromGrpc(reply.grpcCode, reply.message, reply.kind);
    assert.equal(back.name, error.name);
    assert.equal(back.message, error.message);
    assert.equal(errorReply(back).status, errorReply(error).status);
  }
});

Deno.test("a leader that cannot be reached is a NotLeaderError; bare codes map by code", () => {
  assert.ok(
    errorFromGrpc(status.UNAVAILABLE, "connect ECONNREFUSED", undefined) instanceof NotLeaderError,
  );
  assert.ok(
    errorFromGrpc(status.DEADLINE_EXCEEDED, "deadline", undefined) instanceof NotLeaderError,
  );
  assert.ok(errorFromGrpc(status.ALREADY_EXISTS, "x", undefined) instanceof ConflictError);
  // A broken connection (Deno reports a dropped socket as INTERNAL or CANCELLED) is not the
  // leader's answer: the caller gets a 503 and may retry.
  for (const code of [status.INTERNAL, status.CANCELLED, status.UNKNOWN]) {
    assert.ok(errorFromGrpc(code, "Received RST_STREAM", undefined) instanceof NotLeaderError);
  }
  // The leader's own unexpected error stays a 500.
  assert.equal(
    errorReply(errorFromGrpc(status.INTERNAL, "internal error", UNEXPECTED_ERROR_KIND)).status,
    500,
  );
});

Deno.test("an error is rebuilt from its kind and message, as a recorded answer is replayed", () => {
  const rebuilt = errorOfKind("ConflictError", 'resource "x" already exists');
  assert.ok(rebuilt instanceof ConflictError);
  assert.equal(rebuilt.message, 'resource "x" already exists');
  assert.equal(errorOfKind("NoSuchError", "x"), undefined);
});
