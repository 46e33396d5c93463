/**
 * @module
 * The standalone crawl's progress on a terminal: one line redrawn in place with done, queued,
 * failed, pages/s and, while the queue shrinks, an ETA.
 */

/** Counters of a crawl at one moment. */
export interface ProgressSample {
  /** Seconds since the crawl started. */
  seconds: number;
  fetched: number;
  queued: number;
  inFlight: number;
  failed: number;
  items: number;
  /** Why the crawl has not moved for a minute (`TaskStats.stalled`), if it has not. */
  stalled?: string;
}

/** How far back the rates look, in seconds: recent enough to follow a crawl's pace. */
const WINDOW_SECONDS = 10;

/**
 * Keeps recent samples and renders the line. The rate is pages/s over the last
 * {@linkcode WINDOW_SECONDS}; the ETA is the queue divided by how fast it shrank over that window,
 * shown only while it shrinks (a growing frontier has no honest ETA).
 */
export class ProgressMeter {
  readonly #samples: ProgressSample[] = [];

  /** Records a sample and returns the line for it. */
  line(sample: ProgressSample): string {
    this.#samples.push(sample);
    while (
      this.#samples.length > 2 && sample.seconds - this.#samples[0].seconds > WINDOW_SECONDS
    ) {
      this.#samples.shift();
    }
    const first = this.#samples[0];
    const span = sample.seconds - first.seconds;
    const rate = span > 0
      ? (sample.fetched - first.fetched) / span
      : sample.fetched / Math.max(sample.seconds, 0.001);
    const shrink = span > 0 ? (first.queued - sample.queued) / span : 0;
    const eta = shrink > 0 && sample.queued > 0
      ? `ETA ${duration(sample.queued / shrink)}`
      : sample.queued + sample.inFlight === 0
      ? "finishing"
      : "ETA --";
    return `${duration(sample.seconds)}  done ${count(sample.fetched)}  queued ${
      count(sample.queued + sample.inFlight)
    }  failed ${count(sample.failed)}  items ${count(sample.items)}  ${
      rate.toFixed(1)
    } pages/s  ${eta}${sample.stalled ? `  stalled: ${sample.stalled}` : ""}`;
  }
}

/** Draws a line in place on a terminal: each draw overwrites the last. */
export class TerminalLine {
  #shown = false;

  constructor(readonly write: (text: string) => void, readonly columns: () => number = () => 200) {}

  /** Replaces the shown line with `text` (cut to the terminal's width). */
  draw(text: string): void {
    const width = Math.max(this.columns() - 1, 20);
    this.write(`\r\x1b[2K${text.length > width ? text.slice(0, width) : text}`);
    this.#shown = true;
  }

  /** Removes the line, so something else can be printed there; the next draw brings it back. */
  clear(): void {
    if (!this.#shown) return;
    this.write("\r\x1b[2K");
    this.#shown = false;
  }
}

/** `1:02:03`, `2:03` or `5s`. */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  if (h > 0) return `${h}:${String(m).padStart(2, "0")}:${String(rest).padStart(2, "0")}`;
  if (m > 0) return `${m}:${String(rest).padStart(2, "0")}`;
  return `${rest}s`;
}

function count(n: number): string {
  return n.toLocaleString("en-US");
}
