/**
 * @module
 * The coordination store's key layout (SPEC §4). Every key the master and the workers use is
 * built and taken apart here, so the layout lives in one place.
 */

/** Prefix of the resources (tasks) the leader assigns: `/resources/<name>`. */
export const RESOURCES_PREFIX = "/resources/";

/** Prefix of the master election (etcd's election recipe puts candidates under it). */
export const ELECTION_PREFIX = "/crawler/election";

/** Prefix of the worker registry: `/crawler/workers/<workerId>`, each on a lease. */
export const WORKERS_PREFIX = "/crawler/workers/";

/**
 * Prefix of deletion records: `/crawler/deleted/<name>` says a resource of that name was deleted
 * lately, so a delete repeated after an answer that was lost still answers success.
 */
export const TOMBSTONES_PREFIX = "/crawler/deleted/";

/** The deletion record of the resource named `name`. */
export function tombstoneKey(name: string): string {
  return `${TOMBSTONES_PREFIX}${name}`;
}

/** The resource name in a `/crawler/deleted/<name>` key, or undefined for any other key. */
export function tombstoneNameFromKey(key: string): string | undefined {
  return key.startsWith(TOMBSTONES_PREFIX) && key.length > TOMBSTONES_PREFIX.length
    ? key.slice(TOMBSTONES_PREFIX.length)
    : undefined;
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
