/**
 * The results cannot be read now: their database does not answer, or a worker holding some of
 * them (SQLite results) does not. Retry later. HTTP 503.
 */
export class ResultsUnavailableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ResultsUnavailableError";
  }
}
