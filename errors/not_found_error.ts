/** The resource, or the preset a name refers to, does not exist. HTTP 404. */
export class NotFoundError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "NotFoundError";
  }
}
