/**
 * The call carries no bearer token, or not the right one (docs/operating.md, "Auth"). HTTP 401. The
 * message never says anything about the right token.
 */
export class UnauthenticatedError extends Error {
  constructor(message = "missing or invalid bearer token", options?: ErrorOptions) {
    super(message, options);
    this.name = "UnauthenticatedError";
  }
}
