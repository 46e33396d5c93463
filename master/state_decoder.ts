/**
 * @module
 * Reads worker registrations and resources out of store values. The key is what decides: a
 * registration vanishes with its key's lease, and a resource's name is its key's last segment.
 * Malformed values are logged and skipped, never fatal.
 */
import type { Logger } from "../log/logger.ts";
import { resourceNameFromKey, workerIdFromKey } from "../proto/keys.ts";
import { decodeResourceSpec, type ResourceSpec } from "../proto/resource_spec.ts";
import { decodeWorkerRegistration, type WorkerRegistration } from "../proto/worker_registration.ts";
import type { KeyValue } from "../store/store.ts";

/** Decodes `/crawler/workers/` and `/resources/` values, logging what it skips. */
export class StateDecoder {
  constructor(readonly logger: Logger) {}

  /** Every well-formed registration among `kvs`. */
  workers(kvs: readonly KeyValue[]): WorkerRegistration[] {
    const workers: WorkerRegistration[] = [];
    for (const kv of kvs) {
      const id = workerIdFromKey(kv.key);
      const registration = id === undefined ? undefined : this.worker(id, kv.value);
      if (registration) workers.push(registration);
    }
    return workers;
  }

  /** The key names the worker: it is what vanishes with the lease, so it decides liveness. */
  worker(id: string, value: string): WorkerRegistration | undefined {
    try {
      const registration = decodeWorkerRegistration(value);
      if (registration.id !== id) {
        this.logger.warn("worker registration id differs from its key; using the key", {
          key: id,
          id: registration.id,
        });
      }
      return { ...registration, id };
    } catch (error) {
      this.logger.warn("ignoring a malformed worker registration", { id, error });
      return undefined;
    }
  }

  /** Every well-formed resource among `kvs`. */
  resources(kvs: readonly KeyValue[]): ResourceSpec[] {
    return kvs.map((kv) => this.resource(kv)).filter((r) => r !== undefined);
  }

  /** The key names the resource: a value whose `Name` differs is taken under the key's name. */
  resource(kv: KeyValue): ResourceSpec | undefined {
    try {
      const resource = decodeResourceSpec(kv.value);
      const name = resourceNameFromKey(kv.key);
      if (name === undefined || name === resource.Name) return resource;
      this.logger.warn("resource Name differs from its key; using the key", {
        key: kv.key,
        name: resource.Name,
      });
      return { ...resource, Name: name };
    } catch (error) {
      this.logger.warn("ignoring a malformed resource", { key: kv.key, error });
      return undefined;
    }
  }
}
