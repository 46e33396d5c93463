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
