/**
 * @module
 * The standalone crawl's progress on a terminal: one line redrawn in place with done, queued,
 * failed, pages/s and, while the queue shrinks, an ETA; with a recrawl task, its revisits and
 * schedule, and `waiting` with the time to the next visit instead of the ETA while nothing is
 * due.
 */
import { isWaiting, type TaskStats } from "../spider/task_run.ts";

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
  /** The revisits of the crawl's recrawl tasks (see {@linkcode recrawlProgress}); absent: none. */
  recrawl?: RecrawlProgress;
}

/** The revisits and schedule of a crawl's recrawl tasks at one moment (docs/frontier.md). */
export interface RecrawlProgress {
  /** Nothing to fetch until the next visit is due: every recrawl task waits, every other ended. */
  waiting: boolean;
  /** Seconds until the earliest next visit; absent while nothing is scheduled. */
  nextDueSeconds?: number;
  /** Pages whose next visit is due now. */
  due: number;
  /** Pages fetched and waiting for their next visit, due or not. */
  scheduled: number;
  revisits: number;
  /** Revisits answered 304. */
  notModified: number;
  unchanged: number;
  changed: number;
}

/**
 * The recrawl part of a progress sample from the stats of the crawl's runs at `now` (ms since
 * the epoch): their revisits and schedules summed, the earliest next visit. Undefined when no
 * run recrawls.
 *
 * @example
 * ```ts
 * meter.line({ ...sample, recrawl: recrawlProgress(runs.map((r) => r.stats), Date.now()) });
 * ```
 */
export function recrawlProgress(
  stats: readonly TaskStats[],
  now: number,
): RecrawlProgress | undefined {
  const recrawling = stats.filter((s) => s.recrawl !== undefined);
  if (recrawling.length === 0) return undefined;
  const progress: RecrawlProgress = {
    waiting: stats.every((s) => s.recrawl ? isWaiting(s) : s.finishedAt !== undefined),
    due: 0,
    scheduled: 0,
    revisits: 0,
    notModified: 0,
    unchanged: 0,
    changed: 0,
  };
  let nextDueAt = Infinity;
  for (const { recrawl, frontier } of recrawling) {
    progress.due += frontier.due;
    progress.scheduled += frontier.scheduled;
    progress.revisits += recrawl!.revisits;
    progress.notModified += recrawl!.notModified;
    progress.unchanged += recrawl!.unchanged;
    progress.changed += recrawl!.changed;
    nextDueAt = Math.min(nextDueAt, recrawl!.nextDueAt ?? Infinity);
  }
  if (nextDueAt !== Infinity) progress.nextDueSeconds = Math.max(0, (nextDueAt - now) / 1000);
  return progress;
}

/**
 * The schedule and revisits of a recrawl crawl, as the progress line ends:
 * `due 0 / scheduled 1,000  revisits 1,000 (304: 990, unchanged 5, changed 5)`.
 */
export function recrawlText(r: RecrawlProgress): string {
  return `due ${count(r.due)} / scheduled ${count(r.scheduled)}  revisits ${
    count(r.revisits)
  } (${`304: ${count(r.notModified)}, unchanged ${count(r.unchanged)}, changed ${
    count(r.changed)
  }`})`;
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
    const { recrawl } = sample;
    // A recrawl crawl never finishes: between its passes it waits for the next visit.
    const eta = recrawl?.waiting
      ? `waiting${
        recrawl.nextDueSeconds === undefined
          ? ""
          : `, next due in ${duration(recrawl.nextDueSeconds)}`
      }`
      : shrink > 0 && sample.queued > 0
      ? `ETA ${duration(sample.queued / shrink)}`
      : sample.queued + sample.inFlight === 0
      ? (recrawl ? "revisiting" : "finishing")
      : "ETA --";
    return `${duration(sample.seconds)}  done ${count(sample.fetched)}  queued ${
      count(sample.queued + sample.inFlight)
    }  failed ${count(sample.failed)}  items ${count(sample.items)}  ${
      rate.toFixed(1)
    } pages/s  ${eta}${recrawl ? `  ${recrawlText(recrawl)}` : ""}${
      sample.stalled ? `  stalled: ${sample.stalled}` : ""
    }`;
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
