/**
 * @module
 * The line a task card shows for a task whose pages are rendered in Chromium: pages rendered and
 * failed, pages open now, browser restarts, and the render-time histogram. Kept apart from
 * `dashboard_app.ts` (which draws into the page as it loads) so a test can call it.
 */
import type { RenderStats } from "../../spider/browser/render_stats.ts";

const num = (n: number) => Number(n).toLocaleString("en-US");
const plural = (n: number, one: string, many: string) => num(n) + " " + (n === 1 ? one : many);

/**
 * The card's render line, or "" for a task that renders no page (`render` absent). `bounds` are
 * the histogram's upper bounds in seconds (`ClusterSnapshot.renderSeconds`); only buckets with a
 * render in them are shown.
 *
 * @example
 * ```ts
 * renderLine(t.totals.render, cluster.renderSeconds);
 * // '<div class="task-sub" data-field="render">rendered: 12 pages, 1 failed · 2 open · …</div>'
 * ```
 */
export function renderLine(render: RenderStats | undefined, bounds: readonly number[]): string {
  if (!render) return "";
  const times = render.seconds.flatMap((count, i) =>
    count === 0 ? [] : [
      (i < bounds.length ? "≤" + bounds[i] : ">" + bounds[bounds.length - 1]) + " s: " +
      num(count),
    ]
  );
  return '<div class="task-sub" data-field="render">rendered: ' +
    plural(render.rendered, "page", "pages") + ", " + num(render.failed) + " failed · " +
    num(render.open) + " open · " + plural(render.restarts, "browser restart", "browser restarts") +
    (times.length === 0
      ? ""
      : ' · <span data-field="render-times">render time ' + times.join(", ") + "</span>") +
    "</div>";
}
