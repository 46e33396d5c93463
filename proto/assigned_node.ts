/**
 * @module
 * The `AssignedNode` field of a resource: `<workerId>|<host:grpcPort>`. The Go project's format,
 * kept for compatibility, so exactly one function builds it and one parses it.
 */

/** Which worker a resource is assigned to, and where that worker's gRPC server listens. */
export interface AssignedNode {
  workerId: string;
  /** `host:grpcPort`. */
  address: string;
}

const SEPARATOR = "|";

/**
 * Builds `<workerId>|<address>`. Throws `RangeError` when either part is empty or the worker id
 * contains `|` (the string could not be parsed back).
 *
 * @example
 * ```ts
 * buildAssignedNode({ workerId: "crawler.worker-1", address: "10.0.0.5:9090" });
 * // "crawler.worker-1|10.0.0.5:9090"
 * ```
 */
export function buildAssignedNode(node: AssignedNode): string {
  if (!node.workerId || node.workerId.includes(SEPARATOR)) {
    throw new RangeError(`worker id must be non-empty and without "|": "${node.workerId}"`);
  }
  if (!node.address) throw new RangeError(`worker ${node.workerId} has no address`);
  return `${node.workerId}${SEPARATOR}${node.address}`;
}

/**
 * Parses `<workerId>|<address>`; undefined when the value is empty or malformed (a resource
 * that is not assigned, or was written by something else), which callers treat as unassigned.
 */
export function parseAssignedNode(value: string): AssignedNode | undefined {
  const at = value.indexOf(SEPARATOR);
  if (at <= 0 || at === value.length - 1) return undefined;
  return { workerId: value.slice(0, at), address: value.slice(at + 1) };
}
