/**
 * @module
 * Keeps a worker alive when the Postgres client throws where no query can catch it.
 *
 * postgres.js 3.4 (the latest 3.x; 4.x is a rewrite with another API) writes to its socket from a
 * `setImmediate` and cleans up in `async` socket handlers. When the server goes away at the
 * wrong moment the socket is already gone: `Cannot read properties of null (reading 'write')`
 * was thrown from `nextWrite` in its `src/connection.js` (porsager/postgres#1154, #1066, #1208;
 * fixes proposed, none released), with none of our code on the stack. Our copy of the client
 * (`vendor/postgres/`) no longer throws there: a throw from an immediate breaks Deno's immediate
 * queue for good, guard or not. Deno turns other such throws into an `error` event on
 * `globalThis` (a rejection of the client's own promises into an `unhandledrejection` event) and
 * exits unless the event's default is prevented.
 *
 * {@linkcode installPostgresCrashGuard} prevents it for errors thrown from inside the client —
 * a stack frame in postgres' `src/connection.js`, or a socket error left without a listener
 * ({@linkcode isOrphanSocketError}) — and hands them on (the worker resets its
 * pools, `PostgresPools.clientFailed`). Every other uncaught error still ends the process.
 */

/** Options for {@linkcode installPostgresCrashGuard}. */
export interface PostgresCrashGuardOptions {
  /** Called with each error of the client that was kept from ending the process. */
  onClientError: (error: unknown) => void;
  /** Where uncaught errors are dispatched. Default `globalThis`. */
  target?: EventTarget;
}

/** The client's errors for a connection it closed or destroyed (its pool reset, the server gone). */
const TEARDOWN_CODES = new Set(["CONNECTION_DESTROYED", "CONNECTION_CLOSED", "CONNECTION_ENDED"]);

/**
 * The queries the client runs on its own as a connection opens: the array types
 * (`fetchArrayTypes`) and a standby check (`fetchState`). Its connection code starts them from a
 * message handler that drops their promise, so one that fails (the server went away while the
 * connection was opening: `read ECONNRESET`) is an unhandled rejection with that query attached,
 * though no code of ours ran it.
 */
const CLIENT_OWN_QUERY =
  /\bfrom pg_catalog\.pg_type\b[\s\S]*\btyparray\b|^\s*show transaction_read_only;/;

/** A frame of postgres.js's connection code, wherever the package is installed or bundled. */
const CLIENT_FRAME =
  /[/\\]postgres(?:@[^/\\\s)]+)?[/\\](?:[^/\\\s)]+[/\\])?(?:cjs[/\\])?src[/\\]connection\.js:/;

/**
 * True when `error` was thrown from inside the Postgres client: a frame of its stack lies in
 * postgres' `src/connection.js` (the npm cache, a `node_modules` folder, a compiled binary).
 * A query's own failure is not one: the client hands it to the query's caller with the query
 * attached (`error.query`), and one left unhandled is our mistake, which must stay loud — unless
 * the query is one the client ran on its own while connecting ({@linkcode CLIENT_OWN_QUERY}).
 */
export function isPostgresClientError(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  // The client rejects every query of a connection it tears down with one error object, which
  // the first query marks with itself: a teardown error carries a query without being its own.
  const code = (error as { code?: unknown }).code;
  if ("query" in error) {
    const query = (error as { query?: unknown }).query;
    if (typeof query === "string" && CLIENT_OWN_QUERY.test(query)) return true;
    if (!(typeof code === "string" && TEARDOWN_CODES.has(code))) return false;
  }
  const stack = (error as { stack?: unknown }).stack;
  if (typeof stack !== "string") return false;
  return stack.split("\n").some((line) => /^\s+at /.test(line) && CLIENT_FRAME.test(line));
}

/** The codes of a socket that failed under its user: the peer went away or stopped answering. */
const SOCKET_CODES = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED", "ETIMEDOUT"]);
/** A stack frame of the runtime itself (Deno's Node compatibility, its core), not of a module. */
const RUNTIME_FRAME = /^\s+at (?:.*\()?(?:ext:|node:|native\b|<anonymous>)|^\s+at [^(]*$/;

/**
 * True when `error` is a socket's failure that reached no listener, with only the runtime's own
 * frames on its stack: the Postgres client removes its socket's listeners when the connection
 * closes, and a reset or broken pipe reported after that (`read ECONNRESET`, "This socket has
 * been ended by the other party") is thrown from Deno's socket code, its stack cut off before
 * the client's frames (V8 keeps ten). The other clients of a worker (gRPC, etcd, fetch) keep
 * their sockets' listeners, so such an error is the Postgres client's.
 */
export function isOrphanSocketError(error: unknown): boolean {
  if (typeof error !== "object" || error === null || "query" in error) return false;
  const { code, stack } = error as { code?: unknown; stack?: unknown };
  if (typeof code !== "string" || !SOCKET_CODES.has(code) || typeof stack !== "string") {
    return false;
  }
  const frames = stack.split("\n").filter((line) => /^\s+at /.test(line));
  return frames.every((line) => RUNTIME_FRAME.test(line));
}

/**
 * Listens for uncaught errors and unhandled rejections; those thrown from inside the Postgres
 * client do not end the process and go to `onClientError`. Dispose of the result to stop.
 *
 * @example
 * ```ts
 * const pools = new PostgresPools({ logger });
 * using _guard = installPostgresCrashGuard({ onClientError: (e) => pools.clientFailed(e) });
 * ```
 */
export function installPostgresCrashGuard(options: PostgresCrashGuardOptions): Disposable {
  const target = options.target ?? globalThis;
  const onError: EventListener = (event) => {
    const error = (event as ErrorEvent).error;
    if (!isPostgresClientError(error) && !isOrphanSocketError(error)) return;
    event.preventDefault();
    options.onClientError(error);
  };
  const onRejection: EventListener = (event) => {
    const reason = (event as PromiseRejectionEvent).reason;
    if (!isPostgresClientError(reason) && !isOrphanSocketError(reason)) return;
    event.preventDefault();
    options.onClientError(reason);
  };
  target.addEventListener("error", onError);
  target.addEventListener("unhandledrejection", onRejection);
  return {
    [Symbol.dispose]() {
      target.removeEventListener("error", onError);
      target.removeEventListener("unhandledrejection", onRejection);
    },
  };
}
