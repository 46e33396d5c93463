/**
 * @module
 * The scheduler's queue: an async queue standing in for the Go project's channels, with
 * priority requests (priority > 0) handed out before the others.
 */
import type { CrawlRequest } from "./request.ts";

/** FIFO within each class; `pull` waits for a request or for `close()`. */
export class RequestQueue {
  #priority: Fifo<CrawlRequest> = new Fifo();
  #normal: Fifo<CrawlRequest> = new Fifo();
  #waiters: Array<(req: CrawlRequest | undefined) => void> = [];
  #closed = false;

  get size(): number {
    return this.#priority.size + this.#normal.size;
  }

  get closed(): boolean {
    return this.#closed;
  }

  push(req: CrawlRequest): void {
    if (this.#closed) return;
    const waiter = this.#waiters.shift();
    if (waiter) return waiter(req);
    (req.priority > 0 ? this.#priority : this.#normal).push(req);
  }

  /** The next request, priority first; undefined once the queue is closed or `signal` aborts. */
  pull(signal?: AbortSignal): Promise<CrawlRequest | undefined> {
    const next = this.#priority.shift() ?? this.#normal.shift();
    if (next || this.#closed || signal?.aborted) return Promise.resolve(next);
    return new Promise((resolve) => {
      const onAbort = () => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        resolve(undefined);
      };
      const waiter = (req: CrawlRequest | undefined) => {
        signal?.removeEventListener("abort", onAbort);
        resolve(req);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** Drops what is queued and releases every waiting `pull` with undefined. */
  close(): void {
    this.#closed = true;
    this.#priority = new Fifo();
    this.#normal = new Fifo();
    for (const waiter of this.#waiters.splice(0)) waiter(undefined);
  }
}

/** An array-backed FIFO with O(1) amortised shift (Array.shift is O(n) on large arrays). */
class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  get size(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }
}
