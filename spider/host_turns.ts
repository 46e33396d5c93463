/**
 * @module
 * Per-host turns inside one process: at most `limit` requests of a host run at once here, the
 * others wait in line. The frontier hands out ready hosts only, so a wait here is short (a host
 * with room for several requests whose claims outnumber its room), and it replaces giving a
 * claim back only to claim it again.
 */

interface Line {
  running: number;
  waiting: Array<() => void>;
}

/** Turns per host; a host's entry lives only while it has requests running or waiting. */
export class HostTurns {
  readonly #lines = new Map<string, Line>();

  /** Hosts with requests running or waiting. */
  get size(): number {
    return this.#lines.size;
  }

  /**
   * Waits for a turn on `host` (at most `limit` at once); resolves with the function that ends
   * it. Rejects with the signal's reason if it aborts first.
   */
  async acquire(host: string, limit: number, signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted();
    let line = this.#lines.get(host);
    if (!line) this.#lines.set(host, line = { running: 0, waiting: [] });
    if (line.running >= limit) {
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          line!.waiting.splice(line!.waiting.indexOf(go), 1);
          this.#forget(host, line!);
          reject(signal!.reason);
        };
        const go = () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        };
        line!.waiting.push(go);
        signal?.addEventListener("abort", onAbort, { once: true });
      });
    } else {
      line.running++;
    }
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      const next = line!.waiting.shift();
      // The turn passes straight to the next in line: `running` stays as it is.
      if (next) next();
      else {
        line!.running--;
        this.#forget(host, line!);
      }
    };
  }

  #forget(host: string, line: Line): void {
    if (line.running === 0 && line.waiting.length === 0) this.#lines.delete(host);
  }
}
