/**
 * @module
 * The coordination store's key layout (docs/operating.md, "Keys in etcd"). Every key the master and
 * the workers use is built and taken apart here, so the layout lives in one place.
 */

/** Prefix of the resources (tasks) the leader assigns: `/resources/<name>`. */
export const RESOURCES_PREFIX = "/resources/";

/** Prefix of the master election (etcd's election recipe puts candidates under it). */
export const ELECTION_PREFIX = "/crawler/election";

/** Prefix of the worker registry: `/crawler/workers/<workerId>`, each on a lease. */
export const WORKERS_PREFIX = "/crawler/workers/";

/**
 * Prefix of idempotency records: `/crawler/idempotency/<key>` holds what the leader answered to
 * the write that carried that `Idempotency-Key`, so a retry of it is answered the same.
 */
export const IDEMPOTENCY_PREFIX = "/crawler/idempotency/";

/**
 * The record of the idempotency key `key` (1–255 visible ASCII characters, see
 * `idempotencyKeySchema`). The key is taken as it is: nothing parses it back out of the store key.
 */
export function idempotencyRecordKey(key: string): string {
  return `${IDEMPOTENCY_PREFIX}${key}`;
}

/** The key of the resource named `name`. */
export function resourceKey(name: string): string {
  return `${RESOURCES_PREFIX}${name}`;
}

/** The resource name in a `/resources/<name>` key, or undefined for any other key. */
export function resourceNameFromKey(key: string): string | undefined {
  return key.startsWith(RESOURCES_PREFIX) && key.length > RESOURCES_PREFIX.length
    ? key.slice(RESOURCES_PREFIX.length)
    : undefined;
}

/** The registry key of the worker `workerId`. */
export function workerKey(workerId: string): string {
  return `${WORKERS_PREFIX}${workerId}`;
}

/** The worker id in a `/crawler/workers/<workerId>` key, or undefined for any other key. */
export function workerIdFromKey(key: string): string | undefined {
  return key.startsWith(WORKERS_PREFIX) && key.length > WORKERS_PREFIX.length
    ? key.slice(WORKERS_PREFIX.length)
    : undefined;
}

/**
 * Prefix of task claims: `/crawler/claims/<task>/<workerId>`, each on its worker's registration
 * lease. A worker holds one before it runs a task, so a task moved to another worker does not
 * start there while the old worker may still run it.
 */
export const CLAIMS_PREFIX = "/crawler/claims/";

/** The prefix of every claim on task `name` (ends with "/"). */
export function taskClaimsPrefix(name: string): string {
  return `${CLAIMS_PREFIX}${name}/`;
}

/** The key of `workerId`'s claim on task `name`. */
export function claimKey(name: string, workerId: string): string {
  return `${taskClaimsPrefix(name)}${workerId}`;
}

/**
 * The task and worker of a claim key, or undefined for any other key. Worker ids never contain
 * "/", so the last segment is the worker and everything before it the task name.
 */
export function claimFromKey(key: string): { task: string; workerId: string } | undefined {
  if (!key.startsWith(CLAIMS_PREFIX)) return undefined;
  const rest = key.slice(CLAIMS_PREFIX.length);
  const at = rest.lastIndexOf("/");
  if (at <= 0 || at === rest.length - 1) return undefined;
  return { task: rest.slice(0, at), workerId: rest.slice(at + 1) };
}
