/**
 * @module
 * The master's HTTP API bodies (docs/http-api.md): request schemas, checked with zod so a bad body
 * is a 400 naming the field, and the shapes of the answers.
 */
import { z } from "zod";
import { taskSpecSchema } from "./task_spec.ts";
import type { ResourceSpec } from "./resource_spec.ts";

/** Longest accepted resource name. */
export const MAX_RESOURCE_NAME_LENGTH = 200;

/**
 * A resource name: it is the last segment of `/resources/<name>` and a results table name, so
 * it may not contain `/`, whitespace or control characters.
 */
export const resourceNameSchema = z.string()
  .min(1, "must not be empty")
  .max(MAX_RESOURCE_NAME_LENGTH, `must be at most ${MAX_RESOURCE_NAME_LENGTH} characters`)
  // deno-lint-ignore no-control-regex
  .regex(/^[^/\s\u0000-\u001f\u007f]+$/, "must not contain '/', whitespace or control characters");

/**
 * `POST /crawler/resource` and `AddResource`. `id` is accepted for compatibility with the Go
 * project's clients, which send one; the leader always gives the resource a snowflake id.
 */
export const addResourceBodySchema = z.object({
  id: z.string().optional(),
  name: resourceNameSchema,
  spec: taskSpecSchema.optional(),
});

/** A parsed add request. */
export type AddResourceRequest = z.infer<typeof addResourceBodySchema>;

/** `DELETE /crawler/resource` and `DeleteResource`. */
export const deleteResourceBodySchema = z.object({ name: resourceNameSchema });

/** A parsed delete request. */
export type DeleteResourceRequest = z.infer<typeof deleteResourceBodySchema>;

/** The answer to an add: the worker the resource went to (the Go project's `NodeSpec`). */
export interface AddResourceResponse {
  id: string;
  Address: string;
}

/** `GET /crawler/resource`. */
export interface ResourceListResponse {
  resources: ResourceSpec[];
  /** Set when there are more: the `after` of the next page. */
  next?: string;
}

/** One live worker with the number of resources assigned to it. */
export interface WorkerStatus {
  id: string;
  address: string;
  httpAddress: string;
  startTime: string;
  payload: number;
}

/** `GET /crawler/workers`. */
export interface WorkerListResponse {
  workers: WorkerStatus[];
  /** Set when there are more: the `after` of the next page. */
  next?: string;
}

/** `GET /crawler/leader`: who leads (undefined while nobody does) and who answered. */
export interface LeaderResponse {
  leader: string | null;
  self: string;
  isLeader: boolean;
}

/** Every error answer: `{"error": "<message>"}`. */
export interface ErrorResponse {
  error: string;
}
