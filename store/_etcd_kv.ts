/**
 * @module
 * Conversions between etcd3's wire objects and the store's types, and the one place that maps
 * etcd client errors to the store's errors.
 */

import {
  EtcdLeaseInvalidError,
  GRPCCancelledError,
  GRPCDeadlineExceededError,
  GRPCInternalError,
  GRPCUnavailableError,
  type IKeyValue,
} from "etcd3";
import { StoreUnavailableError } from "../errors/mod.ts";
import { type KeyValue, LeaseLostError } from "./store.ts";

/** A store `KeyValue` from etcd's (revisions arrive as decimal strings, lease "0" is none). */
export function toKeyValue(kv: IKeyValue): KeyValue {
  const result: KeyValue = {
    key: kv.key.toString("utf8"),
    value: kv.value.toString("utf8"),
    createRevision: Number(kv.create_revision),
    modRevision: Number(kv.mod_revision),
  };
  if (kv.lease && kv.lease !== "0") result.lease = String(kv.lease);
  return result;
}

/**
 * How a broken connection shows under Deno: its node:http2 layer reports a socket closed by
 * etcd as an internal error (gRPC code 13) with the socket error in the message.
 */
const BROKEN_CONNECTION = /RST_STREAM|EPIPE|ECONNRESET|ECONNREFUSED|socket|GOAWAY|closed/i;

/** Thrown instead of calling an endpoint that failed moments ago; the pool tries the next one. */
export class EndpointCoolingDownError extends Error {
  constructor(readonly host: string, readonly retryAt: number) {
    super(
      `etcd endpoint ${host} failed recently; not retried before ${
        new Date(retryAt).toISOString()
      }`,
    );
    this.name = "EndpointCoolingDownError";
  }
}

/** gRPC status codes (grpc-js' `status`), for errors that reach us raw. */
const GRPC_CANCELLED = 1;
const GRPC_INTERNAL = 13;
const GRPC_UNAVAILABLE = 14;

/**
 * A grpc-js `ServiceError` that etcd3 did not wrap: streams (keep-alive, watch) emit them raw,
 * e.g. `14 UNAVAILABLE: No connection established` or `13 INTERNAL: ... RST_STREAM`.
 */
function rawGrpcCode(error: unknown): number | undefined {
  if (!(error instanceof Error)) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === "number" ? code : undefined;
}

/** True when the connection to an endpoint failed (refused, reset, closed by etcd). */
export function isBrokenConnection(error: unknown): error is Error {
  if (error instanceof GRPCUnavailableError) return true;
  if (error instanceof GRPCInternalError) return BROKEN_CONNECTION.test(error.message);
  const code = rawGrpcCode(error);
  if (code === GRPC_UNAVAILABLE) return true;
  if (code === GRPC_INTERNAL) return BROKEN_CONNECTION.test((error as Error).message);
  // A stream that ended without a status, or a socket error from node:http2 itself.
  return error instanceof Error && code === undefined && !(error.name.startsWith("GRPC")) &&
    (STREAM_ENDED.test(error.message) || SOCKET_ERROR.test(error.message));
}

/** Our own message for a stream that ended without an error (etcd went away). */
const STREAM_ENDED = /^(keep-alive|watch) stream ended$/;
/** What node:http2 and the socket layer say when a connection drops. */
const SOCKET_ERROR = /ECONNRESET|ECONNREFUSED|EPIPE|socket hang up|RST_STREAM|GOAWAY/i;

/**
 * True for failures of the connection rather than of the request: etcd is down, restarting or
 * unreachable, or every endpoint failed a moment ago. Retrying them is what keeps the store
 * working across an etcd restart. (A write whose connection broke after it was sent may have
 * been applied: see `EtcdStore.create`.)
 */
export function isConnectionError(error: unknown): error is Error {
  return isBrokenConnection(error) || error instanceof GRPCCancelledError ||
    rawGrpcCode(error) === GRPC_CANCELLED || error instanceof EndpointCoolingDownError;
}

/** True when a read can be tried again: connection failures and expired deadlines. */
export function isRetriableRead(error: unknown): error is Error {
  return isConnectionError(error) || error instanceof GRPCDeadlineExceededError;
}

/**
 * Maps etcd client errors to the store's: unreachable → `StoreUnavailableError`, lease gone →
 * `LeaseLostError`; anything else is returned as it is.
 */
export function toStoreError(error: unknown, operation: string): unknown {
  if (isConnectionError(error) || error instanceof GRPCDeadlineExceededError) {
    return new StoreUnavailableError(`etcd ${operation} failed: ${error.message}`, {
      cause: error,
    });
  }
  if (error instanceof EtcdLeaseInvalidError) {
    return new LeaseLostError(`lease lost: ${error.message}`, { cause: error });
  }
  return error;
}
