/** No live worker to assign a resource to. HTTP 503. */
export class NoWorkerError extends Error {
  constructor(
    message = "no worker is registered to assign the resource to",
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "NoWorkerError";
  }
}
