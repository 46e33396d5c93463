/**
 * @module
 * Starting and stopping a `@grpc/grpc-js` server, shared by the master's and the worker's.
 */
import * as grpc from "@grpc/grpc-js";

/**
 * Binds `server` to `hostname:port` (an empty host means every interface; port 0 picks a free
 * one) and resolves with the port it listens on. Rejects with a message naming the address.
 */
export function listenGrpc(server: grpc.Server, hostname: string, port: number): Promise<number> {
  const host = hostname === "" ? "0.0.0.0" : hostname;
  const target = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
  return new Promise<number>((resolve, reject) => {
    server.bindAsync(target, grpc.ServerCredentials.createInsecure(), (error, bound) => {
      if (error) {
        reject(
          new Error(`gRPC server cannot listen on ${target}: ${error.message}`, { cause: error }),
        );
      } else resolve(bound);
    });
  });
}

/**
 * A `close()` for `server`: stops taking calls, lets running ones finish for up to `graceMs`,
 * then cuts them off (a call waiting on something dead must not hang shutdown). Calling it
 * again returns the same promise.
 */
export function grpcCloser(server: grpc.Server, defaultGraceMs: number) {
  let closing: Promise<void> | undefined;
  return (options: { graceMs?: number } = {}): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, options.graceMs ?? defaultGraceMs);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    return closing;
  };
}
