/**
 * @module
 * The value stored at `/resources/<name>`: JSON with the Go project's field names
 * (`ID`, `Name`, `AssignedNode`, `CreationTime`) plus an optional `Spec` for tasks defined at
 * add-time. Read through the zod schema so a malformed value is caught where it is read.
 */
import { z } from "zod";
import { parseAssignedNode } from "./assigned_node.ts";
import { taskSpecSchema } from "./task_spec.ts";

/** Schema of a stored resource. Unknown fields are kept out of the parsed value, not rejected. */
export const resourceSpecSchema = z.object({
  /** Snowflake id (decimal string), given by the leader when the resource is added. */
  ID: z.string(),
  /** The task name; also the last segment of the key. */
  Name: z.string().min(1),
  /** `<workerId>|<host:grpcPort>` (see `assigned_node.ts`); empty when not assigned. */
  AssignedNode: z.string(),
  /**
   * Every worker the task is placed on, `<workerId>|<host:grpcPort>` each, when a task runs on
   * several workers at once (`spec.workers`). The first equals `AssignedNode`, which is kept for
   * readers of the Go format. Absent means the one placement in `AssignedNode`.
   */
  Placements: z.array(z.string()).optional(),
  /** Nanoseconds since the Unix epoch, as the Go project's `time.Now().UnixNano()`. */
  CreationTime: z.number().nonnegative(),
  /** The task definition when it was given at add-time; absent for presets. */
  Spec: taskSpecSchema.optional(),
  /**
   * True while the task is paused (`POST /crawler/resource/<name>/pause`): its workers keep it
   * assigned but do not run it, and its frontier is kept. Absent or false: it runs.
   */
  Paused: z.boolean().optional(),
});

/** A resource (task) as stored in the coordination store. */
export type ResourceSpec = z.infer<typeof resourceSpecSchema>;

/** Serialises a resource for the store. */
export function encodeResourceSpec(resource: ResourceSpec): string {
  return JSON.stringify(resource);
}

/** Parses a stored resource value. Throws (a `SyntaxError` or zod's error) when it is not one. */
export function decodeResourceSpec(value: string): ResourceSpec {
  return resourceSpecSchema.parse(JSON.parse(value));
}

/** Nanoseconds since the epoch from milliseconds, the unit of `CreationTime`. */
export function unixNanos(epochMs: number): number {
  // Past 2^53 a double cannot hold every nanosecond; the Go project's readers only compare and
  // display this value, so the nearest representable one is what gets stored.
  return Math.round(epochMs) * 1_000_000;
}

/**
 * Every placement of a resource, `<workerId>|<host:grpcPort>` each: `Placements` when present,
 * else the one in `AssignedNode` (none when it is empty).
 */
export function placementsOf(resource: ResourceSpec): string[] {
  if (resource.Placements && resource.Placements.length > 0) return [...resource.Placements];
  return resource.AssignedNode ? [resource.AssignedNode] : [];
}

/**
 * The ids of the workers a resource is placed on: the worker id of each of
 * {@linkcode placementsOf} (a malformed placement is left out).
 *
 * @example
 * ```ts
 * placedWorkerIds({ ...resource, AssignedNode: "w1|10.0.0.5:9100" }); // ["w1"]
 * ```
 */
export function placedWorkerIds(resource: ResourceSpec): string[] {
  return placementsOf(resource)
    .map((placement) => parseAssignedNode(placement)?.workerId)
    .filter((id): id is string => id !== undefined);
}

/**
 * `resource` placed on `placements`: `AssignedNode` is the first (or "" for none), and
 * `Placements` lists them all when there are several (absent otherwise, as the Go format has it).
 */
export function withPlacements(resource: ResourceSpec, placements: string[]): ResourceSpec {
  const { Placements: _, ...rest } = resource;
  return {
    ...rest,
    AssignedNode: placements[0] ?? "",
    ...(placements.length > 1 ? { Placements: [...placements] } : {}),
  };
}
