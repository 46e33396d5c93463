/**
 * @module
 * The gRPC side of the API token: a server interceptor that refuses calls without the right
 * `authorization: Bearer <token>` metadata, and a client interceptor that sends it.
 */
import * as grpc from "@grpc/grpc-js";
import { ERROR_KIND_METADATA_KEY, errorReply, UnauthenticatedError } from "../errors/mod.ts";
import { bearerToken, tokenMatches } from "./token.ts";

/** The metadata key of the token (gRPC's lower-case `authorization`). */
export const AUTHORIZATION_METADATA_KEY = "authorization";

/** The caller's bearer token in `metadata`, if any (a follower forwards it to the leader). */
export function tokenFromMetadata(metadata: grpc.Metadata): string | undefined {
  const value = metadata.get(AUTHORIZATION_METADATA_KEY)[0];
  return typeof value === "string" ? bearerToken(value) : undefined;
}

/** Sets `authorization: Bearer <token>` on `metadata` (nothing when `token` is undefined). */
export function setTokenMetadata(metadata: grpc.Metadata, token: string | undefined): void {
  if (token !== undefined) metadata.set(AUTHORIZATION_METADATA_KEY, `Bearer ${token}`);
}

/**
 * A server interceptor (`new grpc.Server({ interceptors: [...] })`) that ends a call without the
 * right token with UNAUTHENTICATED, before the handler sees it. The code and message come from
 * the one table in `errors/error_reply.ts`. `onRefused` is told the refused call's method (as
 * `package.Service.Method`), for the request counters.
 */
export function tokenServerInterceptor(
  token: string,
  options: { onRefused?: (method: string, code: string) => void } = {},
): grpc.ServerInterceptor {
  return (method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start: (next) => {
        next(
          new grpc.ServerListenerBuilder()
            .withOnReceiveMetadata((metadata, pass) => {
              if (tokenMatches(tokenFromMetadata(metadata), token)) {
                pass(metadata);
                return;
              }
              const reply = errorReply(new UnauthenticatedError());
              options.onRefused?.(
                method.path.replace(/^\//, "").replace("/", "."),
                grpc.status[reply.grpcCode],
              );
              const trailer = new grpc.Metadata();
              trailer.set(ERROR_KIND_METADATA_KEY, reply.kind ?? "");
              call.sendStatus({ code: reply.grpcCode, details: reply.message, metadata: trailer });
            })
            .build(),
        );
      },
    });
}

/**
 * A client interceptor (`new Client(address, credentials, { interceptors: [...] })`) that sends
 * `token` on every call of that client.
 */
export function tokenClientInterceptor(token: string): grpc.Interceptor {
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start: (metadata, listener, next) => {
        setTokenMetadata(metadata, token);
        next(metadata, listener);
      },
    });
}
