/**
 * @module
 * What a task's pages did in the browser, for its status (`GET /tasks`, the masters' dashboard):
 * pages rendered and failed, render time as a histogram, pages open now, browser restarts. The
 * worker's `/metrics` has the same figures for the whole process (`metrics/browser_metrics.ts`).
 */
import type { RenderOutcome } from "./browser_pool.ts";

/**
 * Upper bounds of the render-time histogram, seconds; `/metrics`' `crawler_browser_render_seconds`
 * has the same buckets.
 */
export const RENDER_SECONDS_BUCKETS: readonly number[] = [0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60];

/** A task's renders (present in its stats when the task renders pages). */
export interface RenderStats {
  /** Pages rendered and read. */
  rendered: number;
  /** Renders that failed: timed out, crashed, refused, or answered with an error status. */
  failed: number;
  /**
   * Renders (rendered or failed; not those cut short by the task's stop) by the time they took:
   * `seconds[i]` counts those up to `RENDER_SECONDS_BUCKETS[i]` and over the bound before it; the
   * last entry, one more than the bounds, those slower than the last bound.
   */
  seconds: number[];
  /** The task's pages open in the browser now (rendering). */
  open: number;
  /**
   * Browsers launched to replace one that retired (`retireAfterPages`) or crashed, counted by
   * the task whose render was the new browser's first.
   */
  restarts: number;
}

/** Told of one render by the fetcher that renders it (`FetchRequest.renderWatch`). */
export interface RenderWatch {
  /**
   * A page was taken for the render; `restart` when it is the first render on a browser that
   * replaced a retired or crashed one.
   */
  opened(restart: boolean): void;
  /** The render ended, `seconds` after it began; called once after `opened`. */
  ended(outcome: RenderOutcome, seconds: number): void;
}

/** Stats with nothing rendered yet. */
export function emptyRenderStats(): RenderStats {
  return {
    rendered: 0,
    failed: 0,
    seconds: new Array(RENDER_SECONDS_BUCKETS.length + 1).fill(0),
    open: 0,
    restarts: 0,
  };
}

/**
 * Counts a task's renders into `stats` (one per task run, passed with each of its renders).
 *
 * @example
 * ```ts
 * const tally = new RenderTally();
 * await fetcher.fetch({ url, method: "GET", render: {}, renderWatch: tally });
 * tally.stats.rendered; // 1
 * ```
 */
export class RenderTally implements RenderWatch {
  /** Counts into `stats` (default: new, empty ones). */
  constructor(readonly stats: RenderStats = emptyRenderStats()) {}

  opened(restart: boolean): void {
    this.stats.open++;
    if (restart) this.stats.restarts++;
  }

  ended(outcome: RenderOutcome, seconds: number): void {
    this.stats.open--;
    if (outcome === "aborted") return;
    if (outcome === "ok") this.stats.rendered++;
    else this.stats.failed++;
    const bucket = RENDER_SECONDS_BUCKETS.findIndex((bound) => seconds <= bound);
    this.stats.seconds[bucket < 0 ? RENDER_SECONDS_BUCKETS.length : bucket]++;
  }
}
