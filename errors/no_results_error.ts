/**
 * A task has no results to read: no table of that name in the results database (nothing was
 * stored for it yet, or there is no such task). HTTP 404. Whoever knows the task exists (a
 * configured preset, a resource) answers an empty export instead.
 */
export class NoResultsError extends Error {
  constructor(readonly task: string, options?: ErrorOptions) {
    super(`no results for task "${task}"`, options);
    this.name = "NoResultsError";
  }
}
