/** The request body is over the size limit. HTTP 413. */
export class BodyTooLargeError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "BodyTooLargeError";
  }
}
