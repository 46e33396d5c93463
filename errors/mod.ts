/**
 * @module
 * The errors whose type decides what happens next, shared by every layer above (auth, the
 * frontier, storage, master, worker), and {@linkcode errorReply}: the one table that maps them
 * to an HTTP status and a gRPC code. A module that throws one imports it from here, never from
 * the part of the system that answers it.
 *
 * @example
 * ```ts
 * import { errorReply, NotFoundError } from "../errors/mod.ts";
 * const reply = errorReply(new NotFoundError('task "books" not found'));
 * // reply.status === 404, reply.grpcCode === status.NOT_FOUND
 * ```
 */
export { BodyTooLargeError } from "./body_too_large_error.ts";
export { ConfigError } from "./config_error.ts";
export { ConflictError } from "./conflict_error.ts";
export { DatabaseUnavailableError, logWaiting } from "./database_unavailable_error.ts";
export {
  ERROR_KIND_METADATA_KEY,
  errorFromGrpc,
  errorOfKind,
  type ErrorReply,
  errorReply,
  UNEXPECTED_ERROR_KIND,
} from "./error_reply.ts";
export { IdempotencyKeyReusedError } from "./idempotency_key_reused_error.ts";
export { InvalidArgumentError } from "./invalid_argument_error.ts";
export { NoResultsError } from "./no_results_error.ts";
export { NotFoundError } from "./not_found_error.ts";
export { NotLeaderError } from "./not_leader_error.ts";
export { NoWorkerError } from "./no_worker_error.ts";
export { ResultsUnavailableError } from "./results_unavailable_error.ts";
export { ServiceUnavailableError } from "./service_unavailable_error.ts";
export { StoreUnavailableError } from "./store_unavailable_error.ts";
export { UnauthenticatedError } from "./unauthenticated_error.ts";
