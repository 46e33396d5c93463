import assert from "node:assert/strict";
import { silentLogger } from "../log/logger.ts";
import { StoreUnavailableError } from "../errors/mod.ts";
import { GuardFailedError } from "../store/store.ts";
import { NotLeaderError } from "../errors/mod.ts";
import { LeaderTerm } from "./leader_term.ts";

const guard = { key: "/crawler/election/1", createRevision: 7 };

function newTerm(): LeaderTerm {
  return new LeaderTerm(new AbortController().signal, guard, silentLogger);
}

Deno.test("a refused guarded write ends the term and answers 503 when nothing was applied", async () => {
  const term = newTerm();
  await assert.rejects(
    term.write(() => Promise.reject(new GuardFailedError(guard)), {
      applied: () => Promise.resolve(undefined),
    }),
    (error: Error) => error instanceof NotLeaderError && error.message === "leadership lost; retry",
  );
  assert.equal(term.active, false);
});

Deno.test("a refused guarded write whose first attempt was applied answers success", async () => {
  const term = newTerm();
  // The store client retried a delete whose first attempt went through: the retry's guard
  // fails (leadership moved meanwhile), but the key is gone, which is what the caller asked.
  const result = await term.write(() => Promise.reject(new GuardFailedError(guard)), {
    applied: () => Promise.resolve(true),
  });
  assert.equal(result, true);
  assert.equal(term.active, false, "leadership is still over: nothing more is written");
});

Deno.test("a failed write is confirmed from the store, else its error stands", async () => {
  const term = newTerm();
  const unavailable = () => Promise.reject(new StoreUnavailableError("etcd did not answer"));
  assert.equal(await term.write(unavailable, { applied: () => Promise.resolve(3) }), 3);
  await assert.rejects(
    term.write(unavailable, { applied: () => Promise.reject(new Error("still down")) }),
    StoreUnavailableError,
  );
  assert.equal(term.active, true, "a store error does not end the term");
});

Deno.test("every write carries the term's guard", async () => {
  const term = newTerm();
  assert.deepEqual(await term.write((options) => Promise.resolve(options.guard)), guard);
});
