/**
 * The coordination store (etcd) could not be reached in time. Retriable: nothing can be decided
 * until it is back. HTTP 503.
 */
export class StoreUnavailableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StoreUnavailableError";
  }
}
