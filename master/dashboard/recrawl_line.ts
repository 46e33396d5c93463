/**
 * @module
 * The line a task card shows for a recrawl task (docs/frontier.md, "Recrawl"): when its next
 * visit is due, its pages due and scheduled, and what its revisits found. Kept apart from
 * `dashboard_app.ts` (which draws into the page as it loads) so a test can call it.
 */
import type { RecrawlReport } from "../../proto/worker_report.ts";

const num = (n: number) => Number(n).toLocaleString("en-US");

/** `3 min 12 s`, `2 h 5 min`, `40 s` or `now`: how long until `at` from `now` (ms). */
export function dueIn(at: number, now: number): string {
  const s = Math.round((at - now) / 1000);
  if (s <= 0) return "now";
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (h > 0) return "in " + h + " h" + (m > 0 ? " " + m + " min" : "");
  if (m > 0) return "in " + m + " min" + (s % 60 > 0 ? " " + (s % 60) + " s" : "");
  return "in " + s + " s";
}

/**
 * The card's recrawl line, or "" for a task that does not recrawl (`recrawl` absent). `now` is
 * the time the next visit is counted from, ms since the epoch.
 *
 * @example
 * ```ts
 * recrawlLine(t.totals.recrawl, Date.now());
 * // '<div class="task-sub" data-field="recrawl">next visit due in 3 min 12 s · due 0 / …</div>'
 * ```
 */
export function recrawlLine(recrawl: RecrawlReport | undefined, now: number): string {
  if (!recrawl) return "";
  const next = recrawl.nextDueAt === undefined
    ? "nothing scheduled"
    : '<span data-field="next-due">next visit due ' + dueIn(recrawl.nextDueAt, now) + "</span>";
  return '<div class="task-sub" data-field="recrawl">' + next + " · due " + num(recrawl.due) +
    " / scheduled " + num(recrawl.scheduled) + ' · <span data-field="revisits">revisits ' +
    num(recrawl.revisits) + " (304: " + num(recrawl.notModified) + ", unchanged " +
    num(recrawl.unchanged) + ", changed " + num(recrawl.changed) + ")</span></div>";
}
