/**
 * @module
 * The one table that maps each error an API call can answer with to an HTTP status and a gRPC
 * code (and a gRPC code back to an error, for answers a follower relays from the leader). Every
 * error answer carries the same message on both APIs.
 */
import { status as GrpcStatus } from "@grpc/grpc-js";
import { BodyTooLargeError } from "./body_too_large_error.ts";
import { ConflictError } from "./conflict_error.ts";
import { IdempotencyKeyReusedError } from "./idempotency_key_reused_error.ts";
import { InvalidArgumentError } from "./invalid_argument_error.ts";
import { NotFoundError } from "./not_found_error.ts";
import { NotLeaderError } from "./not_leader_error.ts";
import { NoWorkerError } from "./no_worker_error.ts";
import { ResultsUnavailableError } from "./results_unavailable_error.ts";
import { StoreUnavailableError } from "./store_unavailable_error.ts";
import { UnauthenticatedError } from "./unauthenticated_error.ts";

type ErrorClass = new (message: string) => Error;

interface ErrorKind {
  /** The error's `name`, also sent in gRPC metadata so a relayed error keeps its type. */
  name: string;
  status: number;
  grpcCode: GrpcStatus;
  /** Rebuilds the error from a relayed message. */
  create: (message: string) => Error;
}

function kind(name: string, status: number, grpcCode: GrpcStatus, type: ErrorClass): ErrorKind {
  return { name, status, grpcCode, create: (message) => new type(message) };
}

/**
 * The mapping, in one place. Order matters only for the reverse lookup by gRPC code: the first
 * kind with a code is what a bare code (one without the error-name metadata) turns into.
 */
const KINDS: readonly ErrorKind[] = [
  kind("InvalidArgumentError", 400, GrpcStatus.INVALID_ARGUMENT, InvalidArgumentError),
  kind("NotFoundError", 404, GrpcStatus.NOT_FOUND, NotFoundError),
  kind("ConflictError", 409, GrpcStatus.ALREADY_EXISTS, ConflictError),
  kind(
    "IdempotencyKeyReusedError",
    422,
    GrpcStatus.FAILED_PRECONDITION,
    IdempotencyKeyReusedError,
  ),
  kind("NotLeaderError", 503, GrpcStatus.UNAVAILABLE, NotLeaderError),
  kind("NoWorkerError", 503, GrpcStatus.UNAVAILABLE, NoWorkerError),
  kind("BodyTooLargeError", 413, GrpcStatus.RESOURCE_EXHAUSTED, BodyTooLargeError),
  kind("UnauthenticatedError", 401, GrpcStatus.UNAUTHENTICATED, UnauthenticatedError),
  // The store is down: nothing can be decided until it is back, so it is retriable.
  kind("StoreUnavailableError", 503, GrpcStatus.UNAVAILABLE, StoreUnavailableError),
  kind("ResultsUnavailableError", 503, GrpcStatus.UNAVAILABLE, ResultsUnavailableError),
  // Its message names the task; relayed, it comes back as a plain NotFoundError.
  kind("NoResultsError", 404, GrpcStatus.NOT_FOUND, NotFoundError),
];

/** The gRPC metadata key that carries the error's type along with its code. */
export const ERROR_KIND_METADATA_KEY = "x-crawler-error";

/** The kind a master sends with an unexpected error (a 500 / INTERNAL of its own). */
export const UNEXPECTED_ERROR_KIND = "unexpected";

/**
 * Codes that, without a kind from a master, mean the call did not get a master's answer: the
 * connection broke (Deno reports a dropped socket as INTERNAL or CANCELLED), or it timed out.
 */
const TRANSPORT_CODES = new Set([
  GrpcStatus.UNAVAILABLE,
  GrpcStatus.DEADLINE_EXCEEDED,
  GrpcStatus.CANCELLED,
  GrpcStatus.INTERNAL,
  GrpcStatus.UNKNOWN,
]);

/** What an error becomes on the wire. */
export interface ErrorReply {
  /** HTTP status. */
  status: number;
  grpcCode: GrpcStatus;
  /** The message sent to the caller, the same on both APIs. */
  message: string;
  /** The error type's name, or undefined for an unexpected error (a 500 / INTERNAL). */
  kind: string | undefined;
}

/**
 * Maps any error to its HTTP status, gRPC code and message. Unexpected errors (bugs) are 500 /
 * INTERNAL with a generic message: their details go to the log, not to the caller.
 */
export function errorReply(error: unknown): ErrorReply {
  if (error instanceof Error) {
    const found = KINDS.find((k) => error.name === k.name);
    if (found) {
      return {
        status: found.status,
        grpcCode: found.grpcCode,
        message: error.message,
        kind: found.name,
      };
    }
  }
  return {
    status: 500,
    grpcCode: GrpcStatus.INTERNAL,
    message: "internal error",
    kind: undefined,
  };
}

/**
 * The error of kind `kindName` (an error type's name, as `errorReply` gives it) with `message`,
 * or undefined for a name not in the table. The leader rebuilds the refusal it recorded for an
 * idempotency key with it.
 */
export function errorOfKind(kindName: string, message: string): Error | undefined {
  return KINDS.find((k) => k.name === kindName)?.create(message);
}

/**
 * The error a gRPC failure stands for: our own error type when the answer came from a master
 * (its type is in the metadata, else the code decides), `NotLeaderError` when the leader could
 * not be reached or did not answer in time (a transport failure, also UNAVAILABLE).
 */
export function errorFromGrpc(
  code: GrpcStatus,
  message: string,
  kindName: string | undefined,
): Error {
  const byName = kindName ? KINDS.find((k) => k.name === kindName) : undefined;
  if (byName) return byName.create(message);
  if (kindName === undefined && TRANSPORT_CODES.has(code)) {
    return new NotLeaderError(`the leader did not answer: ${message}`);
  }
  const byCode = KINDS.find((k) => k.grpcCode === code);
  if (byCode) return byCode.create(message);
  return new Error(`the leader failed: ${GrpcStatus[code] ?? code}: ${message}`);
}
