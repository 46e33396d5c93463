/**
 * @module
 * A prefix watch on etcd that survives connection loss exactly: it remembers the revision of
 * the last event it received and re-creates the watch from the next revision, so events are
 * neither lost nor repeated. (etcd3's own `Watcher` resumes from the last response header,
 * drops the compact revision of a cancelled watch and can throw from stream callbacks; this
 * uses the raw gRPC stream instead.)
 */

import { type IWatchResponse, Range } from "etcd3";
import { backoffDelay } from "./_backoff.ts";
import { delay } from "../async/delay.ts";
import { AsyncQueue } from "./_async_queue.ts";
import type { EtcdContext } from "./_etcd_context.ts";
import { isConnectionError, toKeyValue } from "./_etcd_kv.ts";
import { WatchCompactedError, type WatchEvent, type WatchOptions } from "./store.ts";

/** Above this many undelivered events the stream is paused, so etcd holds the rest. */
const HIGH_WATER = 1024;
/** Below this many the paused stream resumes. */
const LOW_WATER = 256;

/** What of a gRPC duplex stream this module uses (grpc-js streams are Node streams). */
interface WatchStream {
  write(request: unknown): void;
  cancel(): void;
  pause?(): void;
  resume?(): void;
  on(event: "data", listener: (response: IWatchResponse) => void): unknown;
  on(event: "error", listener: (error: Error) => void): unknown;
  on(event: "end", listener: () => void): unknown;
}

/**
 * Watches `prefix` ("" for every key) with previous values, from `options.fromRevision`
 * (default: from when iteration starts), until `options.signal` or the store closes.
 */
export async function* watchEtcdPrefix(
  context: EtcdContext,
  prefix: string,
  options: WatchOptions = {},
): AsyncGenerator<WatchEvent, void, undefined> {
  const stop = new AbortController();
  const signals = [context.closed, stop.signal];
  if (options.signal) signals.push(options.signal);
  const signal = AbortSignal.any(signals);
  const watch = new ResumingWatch(context, prefix, options.fromRevision, signal);
  const loop = watch.run();
  context.track(loop);
  try {
    while (true) {
      const next = await watch.queue.shift(signal);
      if (next.done) return;
      watch.afterShift();
      yield next.value;
    }
  } finally {
    stop.abort();
    await loop;
  }
}

class ResumingWatch {
  readonly queue = new AsyncQueue<WatchEvent>();
  #stream: WatchStream | undefined;
  #paused = false;

  constructor(
    readonly context: EtcdContext,
    readonly prefix: string,
    /** The next revision to receive; undefined until the first watch is created. */
    public nextRevision: number | undefined,
    readonly signal: AbortSignal,
  ) {}

  /** Resumes a paused stream once the consumer has caught up. */
  afterShift(): void {
    if (this.#paused && this.queue.size < LOW_WATER) {
      this.#paused = false;
      this.#stream?.resume?.();
    }
  }

  /** Keeps a watch stream open until the signal aborts or the watch fails for good. */
  async run(): Promise<void> {
    const { logger } = this.context;
    let attempt = 0;
    while (!this.signal.aborted && !this.queue.closed) {
      let created = false;
      let failure: unknown;
      try {
        const stream = await this.context.client.watchClient.watch() as unknown as WatchStream;
        this.#stream = stream;
        this.#paused = false;
        failure = await new Promise<unknown>((resolve) => {
          let finished = false;
          const finish = (error?: unknown) => {
            if (finished) return;
            finished = true;
            this.signal.removeEventListener("abort", onAbort);
            stream.cancel();
            resolve(error);
          };
          const onAbort = () => finish();
          stream.on("data", (response) => {
            // A response still buffered after we gave up on this stream must not move
            // nextRevision: the next stream may already be asking from it.
            if (finished) return;
            try {
              if (this.#handle(response)) created = true;
            } catch (error) {
              // A response we cannot use ends the watch for the consumer, with the reason.
              this.queue.fail(error);
              finish();
            }
            if (this.queue.closed) finish();
          });
          stream.on("error", (error) => finish(error));
          stream.on("end", () => finish(new Error("watch stream ended")));
          this.signal.addEventListener("abort", onAbort, { once: true });
          if (this.signal.aborted) return finish(); // aborted while the stream was opening
          stream.write({ create_request: this.#createRequest() });
        });
      } catch (error) {
        failure = error;
      } finally {
        this.#stream = undefined;
      }
      if (this.signal.aborted || this.queue.closed) break;
      if (created) attempt = 0;
      const message = `watch ${JSON.stringify(this.prefix)}: stream lost, resuming from revision ${
        this.nextRevision ?? "(now)"
      }`;
      // A connection failure is expected while etcd restarts; anything else is a real problem.
      if (isConnectionError(failure)) (logger.info ?? logger.warn)(message, { error: failure });
      else logger.error(message, { error: failure });
      await delay(backoffDelay(this.context.backoff, attempt++), { signal: this.signal }).catch(
        () => undefined,
      );
    }
    this.queue.end();
  }

  #createRequest(): Record<string, unknown> {
    const range = Range.prefix(this.prefix); // "" → every key
    return {
      key: range.start,
      range_end: range.end,
      start_revision: this.nextRevision ?? 0,
      prev_kv: true,
      // No progress_notify: etcd before 3.4.25 may send a progress revision ahead of events it
      // has not sent yet, and resuming from it would lose them.
    };
  }

  /** Queues the response's events; true when it confirms the watch was created. */
  #handle(response: IWatchResponse): boolean {
    if (response.compact_revision && response.compact_revision !== "0") {
      throw new WatchCompactedError(Number(response.compact_revision));
    }
    if (response.canceled) {
      throw new Error(
        `etcd cancelled the watch on ${JSON.stringify(this.prefix)}: ${
          response.cancel_reason || "no reason given"
        }`,
      );
    }
    if (response.created) {
      // Without a start revision etcd watches from header.revision + 1: pin it for resumption.
      this.nextRevision ??= Number(response.header.revision) + 1;
    }
    for (const event of response.events ?? []) {
      const revision = Number(event.kv.mod_revision);
      // etcd never splits a revision across responses, so anything below the next revision is
      // a repeat (it cannot happen with an exact start revision, this only guards it).
      if (this.nextRevision !== undefined && revision < this.nextRevision) continue;
      this.queue.push(toWatchEvent(event.type, event.kv, event.prev_kv, revision));
    }
    const last = response.events?.at(-1);
    if (last) this.nextRevision = Number(last.kv.mod_revision) + 1;
    if (this.queue.size >= HIGH_WATER && !this.#paused && this.#stream?.pause) {
      this.#paused = true;
      this.#stream.pause();
    }
    return response.created;
  }
}

function toWatchEvent(
  type: IWatchResponse["events"][number]["type"],
  kv: IWatchResponse["events"][number]["kv"],
  prevKv: IWatchResponse["events"][number]["prev_kv"] | null | undefined,
  revision: number,
): WatchEvent {
  const key = kv.key.toString("utf8");
  const previous = prevKv ? toKeyValue(prevKv) : undefined;
  // etcd3 loads enums as their proto names ("PUT", "DELETE") though its typings say "Put".
  if (String(type).toUpperCase() === "DELETE") {
    return previous
      ? { type: "delete", key, prevKv: previous, revision }
      : { type: "delete", key, revision };
  }
  const event: WatchEvent = { type: "put", key, kv: toKeyValue(kv), revision };
  if (previous) event.prevKv = previous;
  return event;
}
