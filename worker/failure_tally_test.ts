import assert from "node:assert/strict";
import { createLogger } from "../log/logger.ts";
import { FetchError } from "../spider/fetcher.ts";
import { failureReason, failureSummaryLine, FailureTally } from "./failure_tally.ts";

Deno.test("failures are grouped by a short reason", () => {
  const fetchError = (message: string, status?: number) =>
    new FetchError(message, { retriable: false, status });
  assert.equal(failureReason("fetch failed", fetchError("HTTP 404 from u", 404)), "HTTP 404");
  assert.equal(
    failureReason("fetch failed", fetchError("fetching u timed out after 3000 ms")),
    "timeout",
  );
  assert.equal(
    failureReason("fetch failed", fetchError("fetching u failed: connection refused")),
    "network error",
  );
  assert.equal(failureReason("fetch failed", fetchError('invalid URL "x"')), "bad URL");
  assert.equal(
    failureReason("fetch failed", fetchError("body of u is larger than 10 bytes", 200)),
    "body too large",
  );
  assert.equal(failureReason("request failed", new TypeError("boom")), "parse error");
});

Deno.test("the tally counts only final failures among the records it passes on", () => {
  const tally = new FailureTally();
  const lines: string[] = [];
  let cleared = 0;
  const logger = tally.tap(
    createLogger({ level: "debug", write: (l) => lines.push(l) }),
    () => cleared++,
  ).child("crawler");
  const error = new FetchError("HTTP 404 from u", { retriable: false, status: 404 });
  logger.debug("fetch failed, retrying", { error });
  logger.warn("fetch failed", { error });
  logger.warn("fetch failed", { error });
  logger.warn("the store is slow");
  logger.error("no such rule", { rule: "x" });
  logger.info("task finished");
  assert.equal(lines.length, 6);
  assert.equal(cleared, 5, "every record but DEBUG clears the progress line first");
  assert.deepEqual(tally.entries(), [["HTTP 404", 2], ["no such rule", 1]]);
  assert.equal(failureSummaryLine(tally), "failures: 3 (HTTP 404: 2, no such rule: 1)");
  assert.equal(failureSummaryLine(new FailureTally()), undefined);
});
