/**
 * @module
 * The API token (docs/operating.md, "Auth"): its source, the HTTP middleware, the gRPC
 * interceptors, and the rule for starting without one.
 */
export { authHeaders, bearerToken, resolveToken, TOKEN_ENV, tokenMatches } from "./token.ts";
export { PROBE_PATHS, requireToken, type RequireTokenOptions } from "./require_token.ts";
export {
  AUTHORIZATION_METADATA_KEY,
  setTokenMetadata,
  tokenClientInterceptor,
  tokenFromMetadata,
  tokenServerInterceptor,
} from "./grpc_token.ts";
export { checkListenPolicy, isLoopback, type NamedListener } from "./listen_policy.ts";
