/**
 * This master cannot act as leader and cannot reach one: no leader is known, leadership is
 * changing, or the leader did not answer. Retry later, or ask another master. HTTP 503.
 */
export class NotLeaderError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "NotLeaderError";
  }
}
