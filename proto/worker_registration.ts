/**
 * @module
 * The worker registry value at `/crawler/workers/<workerId>` (on a lease of `RegisterTTL`
 * seconds that the worker keeps alive). Workers write it; the leader reads it to know which
 * workers are alive and where they listen.
 */
import { z } from "zod";

/** Schema of a worker's registration. */
export const workerRegistrationSchema = z.object({
  /** The worker id, `<Name>-<id>` (e.g. `crawler.worker-1`); also the key's last segment. */
  id: z.string().min(1).refine((id) => !id.includes("|") && !id.includes("/"), {
    message: 'must not contain "|" or "/"',
  }),
  /** `host:grpcPort` other processes reach the worker's gRPC server at. */
  address: z.string().min(1),
  /** `host:httpPort` of the worker's HTTP server (health, metrics, status). */
  httpAddress: z.string().min(1),
  /** When the worker started, ISO 8601. */
  startTime: z.iso.datetime({ offset: true }),
});

/** A worker's registration as stored in the registry. */
export type WorkerRegistration = z.infer<typeof workerRegistrationSchema>;

/** Serialises a registration for the store. */
export function encodeWorkerRegistration(registration: WorkerRegistration): string {
  return JSON.stringify(workerRegistrationSchema.parse(registration));
}

/** Parses a registry value. Throws (a `SyntaxError` or zod's error) when it is not one. */
export function decodeWorkerRegistration(value: string): WorkerRegistration {
  return workerRegistrationSchema.parse(JSON.parse(value));
}
