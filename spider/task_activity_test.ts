import assert from "node:assert/strict";
import { OTHER_HOSTS, TaskActivity } from "./task_activity.ts";

Deno.test("task activity keeps the last errors newest first, with their URLs", () => {
  let now = 1000;
  const activity = new TaskActivity({ maxErrors: 2, clock: () => now++ });
  activity.failed("http://a.test/1", new Error("HTTP 500"));
  activity.failed("http://a.test/2", new Error("timeout"));
  activity.failed("http://b.test/3", "refused");
  assert.deepEqual(activity.snapshot().errors, [
    { url: "http://b.test/3", error: "refused", at: 1002 },
    { url: "http://a.test/2", error: "timeout", at: 1001 },
  ]);
});

Deno.test("task activity ranks hosts by fetches and failures, capped in size", () => {
  const activity = new TaskActivity({ maxHosts: 2 });
  for (let i = 0; i < 3; i++) activity.fetched(`http://busy.test/${i}`);
  activity.fetched("http://quiet.test/");
  activity.failed("http://quiet.test/x", new Error("404"));
  activity.fetched("http://third.test/"); // past the cap
  activity.fetched("not a url");
  assert.deepEqual(activity.snapshot(), {
    errors: [{ url: "http://quiet.test/x", error: "404", at: activity.snapshot().errors[0].at }],
    hosts: [
      { host: "busy.test", fetched: 3, failed: 0 },
      { host: OTHER_HOSTS, fetched: 2, failed: 0 },
      { host: "quiet.test", fetched: 1, failed: 1 },
    ],
  });
  assert.equal(activity.snapshot(1).hosts.length, 1);
});
