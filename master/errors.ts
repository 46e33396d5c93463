/**
 * @module
 * The master's errors, typed by what should happen next, and the one table that maps each to an
 * HTTP status and a gRPC code (and a gRPC code back to an error, for answers a follower relays
 * from the leader). Every error answer carries the same message on both APIs.
 */
import { status as GrpcStatus } from "@grpc/grpc-js";
import { StoreUnavailableError } from "../store/store.ts";

/** The request is not valid; the message names the field and says why. HTTP 400. */
export class InvalidArgumentError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "InvalidArgumentError";
  }
}

/** The resource, or the preset a name refers to, does not exist. HTTP 404. */
export class NotFoundError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "NotFoundError";
  }
}

/**
 * A task has no results to read: no table of that name in the results database (nothing was
 * stored for it yet, or there is no such task). HTTP 404. Whoever knows the task exists (a
 * configured preset, a resource) answers an empty export instead.
 */
export class NoResultsError extends Error {
  constructor(readonly task: string, options?: ErrorOptions) {
    super(`no results for task "${task}"`, options);
    this.name = "NoResultsError";
  }
}

/**
 * The results cannot be read now: their database does not answer, or a worker holding some of
 * them (SQLite results) does not. Retry later. HTTP 503.
 */
export class ResultsUnavailableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ResultsUnavailableError";
  }
}

/** A resource with that name already exists. HTTP 409. */
export class ConflictError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConflictError";
  }
}

/**
 * The request's idempotency key was used, within the retention window, with a request that
 * differs (another body, or another operation): a key names one write. HTTP 422.
 */
export class IdempotencyKeyReusedError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "IdempotencyKeyReusedError";
  }
}

/**
 * This master cannot act as leader and cannot reach one: no leader is known, leadership is
 * changing, or the leader did not answer. Retry later, or ask another master. HTTP 503.
 */
export class NotLeaderError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "NotLeaderError";
  }
}

/** No live worker to assign a resource to. HTTP 503. */
export class NoWorkerError extends Error {
  constructor(
    message = "no worker is registered to assign the resource to",
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "NoWorkerError";
  }
}

/** The request body is over the size limit. HTTP 413. */
export class BodyTooLargeError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "BodyTooLargeError";
  }
}

/**
 * The call carries no bearer token, or not the right one (SPEC §9). HTTP 401. The message never
 * says anything about the right token.
 */
export class UnauthenticatedError extends Error {
  constructor(message = "missing or invalid bearer token", options?: ErrorOptions) {
    super(message, options);
    this.name = "UnauthenticatedError";
  }
}

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
