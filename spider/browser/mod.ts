/**
 * @module
 * Pages that need a browser: `BrowserFetcher` renders them in Chromium (one pooled browser per
 * worker process, at most `maxPages` pages open), `FetcherSwitch` sends a request to it when
 * its task or rule asks for rendering, `renderOf` says whether one does, `RenderTally` counts a
 * task's renders for its status.
 */
export { BrowserFetcher, type BrowserFetcherOptions, cookiePairs } from "./browser_fetcher.ts";
export {
  BrowserHandle,
  type BrowserObserver,
  BrowserPool,
  type BrowserPoolOptions,
  type BrowserPoolStats,
  type LaunchReason,
  type RenderOutcome,
  Tab,
  type TabPolicy,
} from "./browser_pool.ts";
export {
  defaultBrowserDir,
  processesWithProfileIn,
  reapOrphanBrowsers,
  type ReapResult,
} from "./browser_processes.ts";
export { BrowserUnavailableError, chromiumPath, requireBrowserFor } from "./chromium_binary.ts";
export { FetcherSwitch } from "./fetcher_switch.ts";
export {
  type FetcherKind,
  fetcherKindOf,
  renderOf,
  type RenderOptions,
  taskRenders,
  type WaitUntil,
} from "./render_options.ts";
export {
  emptyRenderStats,
  RENDER_SECONDS_BUCKETS,
  type RenderStats,
  RenderTally,
  type RenderWatch,
} from "./render_stats.ts";
export { BLOCKABLE_RESOURCE_TYPES, type BlockableResourceType } from "./resource_types.ts";
