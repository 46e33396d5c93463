/**
 * @module
 * One `Fetcher` for the engine over two: requests with `render` go to the browser, the others
 * over HTTP.
 */
import type { Fetcher, FetchRequest, FetchResponse } from "../fetcher.ts";

/**
 * Sends a request to `browser` when it has `render` (its task's fetcher is the browser, or its
 * rule renders), else to `http`. `close` closes both.
 *
 * @example
 * ```ts
 * const fetcher = new FetcherSwitch(new HttpFetcher(), new BrowserFetcher({ dataDir, logger }));
 * const crawler = new Crawler({ fetcher, ...deps });
 * ```
 */
export class FetcherSwitch implements Fetcher {
  /** Requests with `render` go to `browser`, the others to `http`. */
  constructor(readonly http: Fetcher, readonly browser: Fetcher) {}

  fetch(req: FetchRequest): Promise<FetchResponse> {
    return req.render ? this.browser.fetch(req) : this.http.fetch(req);
  }

  close(): void {
    try {
      this.http.close?.();
    } finally {
      this.browser.close?.();
    }
  }
}
