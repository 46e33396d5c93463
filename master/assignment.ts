/**
 * @module
 * Which worker a resource goes to: the one with the fewest resources.
 */

/** A candidate worker and how many resources it has. */
export interface WorkerLoad {
  id: string;
  payload: number;
}

/**
 * The least-loaded worker, ties broken by the smallest id (string order) so every leader makes
 * the same choice from the same state; undefined when there is none.
 */
export function pickLeastLoaded<T extends WorkerLoad>(workers: Iterable<T>): T | undefined {
  let best: T | undefined;
  for (const worker of workers) {
    if (
      !best || worker.payload < best.payload ||
      (worker.payload === best.payload && worker.id < best.id)
    ) {
      best = worker;
    }
  }
  return best;
}
