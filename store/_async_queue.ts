/**
 * @module
 * A single-consumer queue that turns pushed items (from callbacks, streams) into awaited ones:
 * the watch implementations push events into it and their async iterators take them out.
 */

/** A FIFO of items with an end (or a failure) that one consumer awaits item by item. */
export class AsyncQueue<T> {
  #items: T[] = [];
  #head = 0;
  #wake: (() => void) | undefined;
  #ended = false;
  #failure: { error: unknown } | undefined;

  /** Items waiting to be taken. */
  get size(): number {
    return this.#items.length - this.#head;
  }

  /** True once `end()` or `fail()` was called: pushes are ignored from then on. */
  get closed(): boolean {
    return this.#ended || this.#failure !== undefined;
  }

  /** Appends an item; ignored after `end()`/`fail()`. */
  push(item: T): void {
    if (this.closed) return;
    this.#items.push(item);
    this.#notify();
  }

  /** No more items: `shift()` reports done once the queued items are taken. */
  end(): void {
    if (this.closed) return;
    this.#ended = true;
    this.#notify();
  }

  /** Fails the queue: `shift()` throws `error` once the items queued before it are taken. */
  fail(error: unknown): void {
    if (this.closed) return;
    this.#failure = { error };
    this.#notify();
  }

  /**
   * Takes the next item, waiting for one. Done when the queue ended or `signal` aborted (the
   * consumer asked to stop, which is not an error for it); throws the `fail()` error.
   */
  async shift(signal?: AbortSignal): Promise<IteratorResult<T, undefined>> {
    while (true) {
      if (signal?.aborted) return { done: true, value: undefined };
      if (this.size > 0) {
        const item = this.#items[this.#head];
        this.#items[this.#head] = undefined as T; // let it be collected
        this.#head++;
        if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
          // Compact now and then so a long-lived queue does not keep a growing array.
          this.#items = this.#items.slice(this.#head);
          this.#head = 0;
        }
        return { done: false, value: item };
      }
      if (this.#failure) throw this.#failure.error;
      if (this.#ended) return { done: true, value: undefined };
      await new Promise<void>((resolve) => {
        const onAbort = () => wake();
        const wake = () => {
          signal?.removeEventListener("abort", onAbort);
          this.#wake = undefined;
          resolve();
        };
        this.#wake = wake;
        signal?.addEventListener("abort", onAbort, { once: true });
      });
    }
  }

  #notify(): void {
    this.#wake?.();
  }
}
