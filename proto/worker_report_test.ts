import assert from "node:assert/strict";
import {
  type HostPolitenessReport,
  withPoliteness,
  workerReportFromMessage,
  workerReportToMessage,
} from "./worker_report.ts";

const polite: HostPolitenessReport[] = [
  {
    host: "http://127.0.0.1:8088",
    throttled: 2,
    disallowed: 5,
    delayMs: 1000,
    blockedUntil: 1_700_000_002_000,
  },
  { host: "https://example.com:443", throttled: 0, disallowed: 1, delayMs: 0, blockedUntil: 0 },
];

Deno.test("a host's politeness state joins its fetch counters, default ports or not", () => {
  const joined = withPoliteness([
    { host: "127.0.0.1:8088", fetched: 10, failed: 1 },
    { host: "example.com", fetched: 3, failed: 0 },
    { host: "other.test", fetched: 1, failed: 0 },
  ], polite);
  assert.deepEqual(joined, [
    {
      host: "127.0.0.1:8088",
      fetched: 10,
      failed: 1,
      throttled: 2,
      disallowed: 5,
      delayMs: 1000,
      blockedUntil: 1_700_000_002_000,
    },
    {
      host: "example.com",
      fetched: 3,
      failed: 0,
      throttled: 0,
      disallowed: 1,
      delayMs: 0,
      blockedUntil: 0,
    },
    { host: "other.test", fetched: 1, failed: 0 },
  ]);
});

Deno.test("a worker's Status carries each host's politeness state to the master", () => {
  const message = workerReportToMessage({
    id: "w1",
    ready: true,
    tasks: [{
      name: "books",
      id: "1",
      state: "running",
      stats: {
        fetched: 10,
        failed: 1,
        retried: 0,
        items: 4,
        queued: 3,
        inFlight: 1,
        startedAt: 1_700_000_000_000,
      },
      activity: { errors: [], hosts: [{ host: "127.0.0.1:8088", fetched: 10, failed: 1 }] },
      hosts: polite,
    }],
  });
  // int64s arrive as decimal strings from grpc-js.
  const wire = JSON.parse(
    JSON.stringify(message, (_k, v) => typeof v === "number" ? String(v) : v),
  );
  wire.ready = true;
  const report = workerReportFromMessage(wire);
  assert.deepEqual(report.tasks[0].activity?.hosts, [{
    host: "127.0.0.1:8088",
    fetched: 10,
    failed: 1,
    throttled: 2,
    disallowed: 5,
    delayMs: 1000,
    blockedUntil: 1_700_000_002_000,
  }]);
});
