/**
 * @module
 * A parse worker of `ParsePool`: runs one declarative rule on one page per message, so a rule
 * that runs away (a catastrophic regular expression, a gigantic page) can be stopped by
 * terminating the worker, which the main thread cannot do to its own synchronous code.
 *
 * In: {@linkcode ParseJob} plus an `id`, or `{ forget: run }` when a task run has ended.
 * Out: `{ ready: true }` once loaded, then per job `{ id, output }` or `{ id, error }`, after
 * `{ id, started: true }` when the job had to wait for linkedom to load.
 */
/// <reference lib="deno.worker" />
import { decodeBody } from "../charset.ts";
import { decodePieces } from "./_decode_pieces.ts";
import type { PageDocument } from "../parse_context.ts";
import type { ParseJob } from "./declarative_rule.ts";
import { compilePrograms, type PageSource, type RuleProgram } from "./rule_program.ts";
import type { DeclarativeSpec } from "./spec_schema.ts";
import { SentLinks } from "./_sent_links.ts";

/** Compiled rule sets by spec text; a few tasks at a time share a worker, so a few suffice. */
const MAX_CACHED_SPECS = 32;
const programsBySpec = new Map<string, Map<string, RuleProgram>>();

function programsOf(spec: string): Map<string, RuleProgram> {
  let programs = programsBySpec.get(spec);
  if (programs) {
    // Re-insert: Map keeps insertion order, so the first key is the least recently used.
    programsBySpec.delete(spec);
  } else {
    programs = compilePrograms(JSON.parse(spec) as DeclarativeSpec);
    if (programsBySpec.size >= MAX_CACHED_SPECS) {
      programsBySpec.delete(programsBySpec.keys().next().value!);
    }
  }
  programsBySpec.set(spec, programs);
  return programs;
}

/**
 * Links sent per task run (see `ParseJob.dedupeRun`). A worker serves a few runs at a time; each
 * record holds at most 2^20 links (16 MiB), so with this many runs a worker's records stay under
 * 256 MiB even when every run is a crawl of millions of pages.
 */
const MAX_RUNS = 16;
const sentByRun = new Map<number, SentLinks>();

function sentFor(run: number): SentLinks {
  let sent = sentByRun.get(run);
  if (!sent) {
    if (sentByRun.size >= MAX_RUNS) sentByRun.delete(sentByRun.keys().next().value!);
    sentByRun.set(run, sent = new SentLinks());
  }
  return sent;
}

/**
 * linkedom, loaded on the first job whose rule needs a DOM (a selector outside the streaming
 * subset): a worker running regular expressions, `a[href]` scans and streaming selectors (most
 * crawls) then never pays its ~20 MB.
 */
let parseHTML: ((html: string) => { document: PageDocument }) | undefined;

/**
 * A page as a rule reads it: decoded on first read of `body` (or piece by piece for a streaming
 * pass that may stop early); the DOM is built on first use, at most once.
 */
class WorkerPage implements PageSource {
  #document: PageDocument | undefined;
  #body: string | undefined;

  constructor(
    readonly url: string,
    body: string | undefined,
    readonly raw?: Uint8Array,
    readonly contentType?: string | null,
  ) {
    this.#body = body;
  }

  get body(): string {
    return this.#body ??= this.raw ? decodeBody(this.raw, this.contentType) : "";
  }

  pieces(): Iterable<string> {
    return this.#body !== undefined || !this.raw
      ? [this.body]
      : decodePieces(this.raw, this.contentType);
  }

  document(): PageDocument {
    this.#document ??= parseHTML!(this.body).document;
    return this.#document;
  }
}

type Message = (ParseJob & { id: number }) | { forget: number };

async function handle(message: Message): Promise<void> {
  if ("forget" in message) {
    sentByRun.delete(message.forget);
    return;
  }
  const { id, spec, rule, url, followLinks, dedupeRun } = message;
  try {
    const program = programsOf(spec).get(rule);
    if (!program) throw new Error(`no rule "${rule}" in the rule set`);
    if (program.needsDocument && !parseHTML) {
      const linkedom = await import("linkedom");
      parseHTML = linkedom.parseHTML as unknown as typeof parseHTML;
      // Loading took time the rule did not use: the job's time limit starts again now.
      self.postMessage({ id, started: true });
    }
    // Posting copies every string, so the run need not copy them first.
    const page = message.raw
      ? new WorkerPage(url, undefined, message.raw, message.contentType)
      : new WorkerPage(url, message.body ?? "");
    const output = program.run(page, {
      copyStrings: false,
      followLinks,
      sent: dedupeRun === undefined ? undefined : sentFor(dedupeRun),
    });
    self.postMessage({ id, output });
  } catch (error) {
    self.postMessage({ id, error: error instanceof Error ? error.message : String(error) });
  }
}

// One message at a time, in order: the pool matches answers to jobs by order, and an awaited
// import must not let the next job overtake.
let queue: Promise<void> = Promise.resolve();
self.onmessage = (event: MessageEvent<Message>) => {
  queue = queue.then(() => handle(event.data));
};

self.postMessage({ ready: true });
