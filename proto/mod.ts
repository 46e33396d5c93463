/**
 * @module
 * The wire types shared by the master, the workers and their clients: store keys and values,
 * the API bodies, the ids kept in the Go project's formats, and the gRPC service definition.
 */
export * from "./keys.ts";
export * from "./assigned_node.ts";
export * from "./master_id.ts";
export * from "./resource_spec.ts";
export * from "./task_spec.ts";
export * from "./worker_registration.ts";
export * from "./task_claim.ts";
export * from "./api_bodies.ts";
export * from "./idempotency.ts";
export * from "./crawler_grpc.ts";
