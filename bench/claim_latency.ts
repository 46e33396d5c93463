/**
 * @module
 * `deno task bench --profile=frontier-scale` (issue 16): how a claim on the Postgres frontier
 * costs when most of what is queued belongs to hosts that are not due. 1,000,000 URLs over
 * 100,000 hosts are queued (`frontier.add`, 5,000 a batch, in the order a crawl finds them:
 * host after host, round and round); 90 % of the hosts are then made not due for an hour the way
 * a worker does it (a claim of one request per host, completed with `hostWaitMs`); then 4
 * claimers, each with its own connection pool as separate workers would have, claim and
 * complete batches together: back to back (a saturated loop: on a machine with fewer cores than
 * claimers plus Postgres it measures the queue for the CPU), then each at the rate a worker of
 * the broad profile fetches. Prints the claim latency p50 / p99 of each (target p99 ≤ 10 ms),
 * claims/s, and the database's bytes per URL.
 *
 * Written against the host-aware claim of issue 16 (`ClaimOptions.perHost` / `hostHoldMs`,
 * `hostWaitMs` on outcomes). A frontier that does not honour them yet is detected (a probe claim
 * hands out a host made not due) and measured the old way instead: the not-due hosts written
 * into `crawler_hosts` and claims with `skipHostsNotDue` — the "before" figure.
 */
import postgres from "postgres";
import type { Claim, ClaimOptions, DoneOutcome, Frontier } from "../frontier/frontier.ts";
import { openPostgresFrontier } from "../frontier/postgres_frontier.ts";
import { urlHost } from "../frontier/url_key.ts";
import type { CrawlRequest } from "../frontier/crawl_request.ts";

/** Claim latency p99, ms, at most. */
const P99_TARGET_MS = 10;

/**
 * The claim options of the host-aware frontier (issue 16). Spelt out here so the bench compiles
 * before and after `frontier.ts` has them; once it does, this is the same type.
 */
type HostClaimOptions = ClaimOptions & {
  /** Most requests of one host per claim. */
  perHost?: number;
  /** A host handed out is not handed out again for that long unless an outcome says when. */
  hostHoldMs?: number;
  /** The claim before issue 16: leave out hosts not due in `crawler_hosts`. */
  skipHostsNotDue?: boolean;
};
/** A done outcome that says when its host is next due (issue 16). */
type HostDoneOutcome = DoneOutcome & { hostWaitMs?: number };

/** Options for {@linkcode benchClaimLatency}; the defaults are issue 16's. */
export interface ClaimLatencyOptions {
  /** The Postgres to use: an empty database of its own, left with the task's 1M rows. */
  postgresUrl: string;
  /** URLs queued. Default 1,000,000. */
  urls?: number;
  /** Hosts they are spread over. Default 100,000. */
  hosts?: number;
  /** Fraction of hosts made not due. Default 0.9. */
  notDueFraction?: number;
  /** Concurrent claimers. Default 4. */
  claimers?: number;
  /** Claims each claimer makes. Default 300. */
  claimsPerClaimer?: number;
  /** Requests per claim. Default 64 (the engine's batch at `fetcher.concurrency` ≥ 64). */
  limit?: number;
  /** The claimers stop after this long even with claims left to make, seconds. Default 120. */
  maxSeconds?: number;
  /**
   * The paced run's rate, requests/s per claimer: about what one worker of the broad profile
   * fetches (939 pages/s there). Default 1,000.
   */
  pace?: number;
  /** Claims each claimer makes in the paced run. Default 100. */
  pacedClaims?: number;
  print?: (line: string) => void;
}

const TASK = "claim-scale";
/**
 * Claims each claimer makes before its latencies count: the first claims on a connection
 * prepare its statements and plan the claim (a once-per-connection cost of a few tens of ms).
 */
const WARM_UP = 5;
const HOST_WAIT_MS = 3_600_000;

function requestOf(host: number, page: number): CrawlRequest {
  return {
    url: `http://h${host}.bench.example/p${page}`,
    method: "GET",
    depth: 1,
    priority: 0,
    ruleName: "page",
    attempt: 0,
  };
}

function hostOf(claim: Claim): number {
  return Number(/^http:\/\/h(\d+)\./.exec(claim.request.url)![1]);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(sorted: readonly number[], q: number): number {
  return sorted.length === 0
    ? NaN
    : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** Queues `urls` URLs, host after host, `batch` a call, `parallel` calls at a time. */
async function fill(frontier: Frontier, urls: number, hosts: number): Promise<void> {
  const batch = 5000;
  let next = 0;
  const inserter = async () => {
    // Bounded: each turn takes the next batch until none is left.
    while (next < urls) {
      const start = next;
      next = Math.min(urls, next + batch);
      const requests: CrawlRequest[] = [];
      for (let j = start; j < next; j++) requests.push(requestOf(j % hosts, Math.floor(j / hosts)));
      await frontier.add(TASK, requests);
    }
  };
  await Promise.all(Array.from({ length: 3 }, inserter));
}

/**
 * Makes `count` hosts not due for an hour, as a worker would: claims of one request per host
 * (1,000 a claim), each completed with `hostWaitMs`. Returns which hosts it reached.
 */
async function holdHosts(frontier: Frontier, hosts: number, count: number): Promise<Uint8Array> {
  const notDue = new Uint8Array(hosts);
  let held = 0;
  // Bounded: a claim that hands out nothing new ends it.
  for (let turn = 0; held < count && turn < Math.ceil(count / 1000) + 100; turn++) {
    const options: HostClaimOptions = {
      owner: "setup",
      limit: Math.min(1000, count - held),
      leaseMs: 600_000,
      perHost: 1,
      hostHoldMs: 600_000,
    };
    const claims = await frontier.claim(TASK, options);
    if (claims.length === 0) break;
    for (const claim of claims) {
      const host = hostOf(claim);
      if (!notDue[host]) held++;
      notDue[host] = 1;
    }
    const outcomes: HostDoneOutcome[] = claims.map((claim) => ({
      kind: "done",
      claim,
      children: [],
      hostWaitMs: HOST_WAIT_MS,
    }));
    await frontier.complete(outcomes);
  }
  return notDue;
}

/**
 * The frontier before issue 16 ignores `hostWaitMs`: writes the hosts' not-due time into the
 * politeness host table its claims can skip (`skipHostsNotDue`), as its host store would.
 */
async function holdHostsTheOldWay(url: string, notDue: Uint8Array): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const keys: string[] = [];
    notDue.forEach((held, host) => {
      if (held) keys.push(urlHost(requestOf(host, 0).url));
    });
    for (let i = 0; i < keys.length; i += 10_000) {
      await sql.unsafe(
        `INSERT INTO crawler_hosts (host, due_at, in_flight, state)
         SELECT k, $2, 0, '{}' FROM unnest($1::text[]) AS k
         ON CONFLICT (host) DO UPDATE SET due_at = excluded.due_at`,
        [keys.slice(i, i + 10_000), Date.now() + HOST_WAIT_MS],
      );
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
}

async function vacuumAnalyze(url: string): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe("VACUUM ANALYZE");
  } finally {
    await sql.end({ timeout: 5 });
  }
}

async function databaseBytes(url: string): Promise<number> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe("CHECKPOINT").catch(() => {}); // needs superuser; the size is close without
    const [row] = await sql.unsafe<Array<{ bytes: string }>>(
      "SELECT pg_database_size(current_database()) AS bytes",
    );
    return Number(row.bytes);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** What the claimers measured together. */
interface ClaimRun {
  latencies: number[];
  completeLatencies: number[];
  claimed: number;
  empty: number;
  /** Requests of a host made not due, or a second request of one host in one claim. */
  violations: number;
  seconds: number;
}

async function runClaimers(
  frontiers: Frontier[],
  notDue: Uint8Array,
  options: {
    claims: number;
    limit: number;
    legacy: boolean;
    maxSeconds: number;
    /** Each claimer claims at most once per this many ms (staggered); absent: back to back. */
    intervalMs?: number;
  },
): Promise<ClaimRun> {
  const run: ClaimRun = {
    latencies: [],
    completeLatencies: [],
    claimed: 0,
    empty: 0,
    violations: 0,
    seconds: 0,
  };
  const started = performance.now();
  await Promise.all(frontiers.map(async (frontier, i) => {
    const claimOptions: HostClaimOptions = {
      owner: `claimer-${i + 1}`,
      limit: options.limit,
      leaseMs: 60_000,
      perHost: 1,
      hostHoldMs: 60_000,
      skipHostsNotDue: options.legacy || undefined,
    };
    const until = started + options.maxSeconds * 1000;
    const interval = options.intervalMs ?? 0;
    // Paced claimers start spread over one interval, so they do not claim in step.
    const offset = (interval * i) / frontiers.length;
    for (let k = 0; k < WARM_UP + options.claims && performance.now() < until; k++) {
      const slot = started + offset + k * interval;
      // Pacing, not a wait for a condition: the claim's turn at the given rate.
      if (interval > 0 && performance.now() < slot) await sleep(slot - performance.now());
      const t0 = performance.now();
      const claims = await frontier.claim(TASK, claimOptions);
      const measured = k >= WARM_UP;
      if (measured) run.latencies.push(performance.now() - t0);
      run.claimed += claims.length;
      if (claims.length === 0) run.empty++;
      const seen = new Set<number>();
      for (const claim of claims) {
        const host = hostOf(claim);
        if (notDue[host] || (!options.legacy && seen.has(host))) run.violations++;
        seen.add(host);
      }
      const t1 = performance.now();
      // Due again at once: the claimers keep the same 10 % of hosts busy, no more.
      await frontier.complete(claims.map((claim): HostDoneOutcome => ({
        kind: "done",
        claim,
        children: [],
        hostWaitMs: 0,
      })));
      if (measured) run.completeLatencies.push(performance.now() - t1);
    }
  }));
  run.seconds = (performance.now() - started) / 1000;
  return run;
}

/** The claim latencies of a run, against the target. */
function latencyFigures(run: ClaimRun): string {
  const sorted = [...run.latencies].sort((a, b) => a - b);
  const p99 = percentile(sorted, 0.99);
  return `claim latency p50 ${percentile(sorted, 0.5).toFixed(2)} ms, p90 ${
    percentile(sorted, 0.9).toFixed(2)
  } ms, p99 ${p99.toFixed(2)} ms, max ${sorted[sorted.length - 1].toFixed(2)} ms ` +
    `(target p99 ≤ ${P99_TARGET_MS} ms: ${p99 <= P99_TARGET_MS ? "met" : "NOT met"})`;
}

/** A run's claims/s and its acknowledgements' latencies. */
function throughputFigures(run: ClaimRun): string {
  const completes = [...run.completeLatencies].sort((a, b) => a - b);
  return `${fmt(run.latencies.length / run.seconds)} claims/s, ${
    fmt(run.claimed / run.seconds)
  } requests/s claimed (${fmt(run.claimed)} requests in ${fmt(run.latencies.length)} claims, ` +
    `${fmt(run.empty)} empty, ${run.seconds.toFixed(1)} s); each batch acked before the next ` +
    `claim: complete p50 ${percentile(completes, 0.5).toFixed(2)} ms, p99 ${
      percentile(completes, 0.99).toFixed(2)
    } ms`;
}

/**
 * Queues `count` more requests (at least) on the hosts that are due, new pages of theirs: the
 * runs before used up most of what those hosts had.
 */
async function refillDueHosts(frontier: Frontier, notDue: Uint8Array, count: number) {
  const due: number[] = [];
  notDue.forEach((held, host) => {
    if (!held) due.push(host);
  });
  const perHost = Math.ceil(count / due.length);
  const requests: CrawlRequest[] = [];
  for (let page = 0; page < perHost; page++) {
    for (const host of due) requests.push(requestOf(host, 1_000_000 + page));
  }
  for (let i = 0; i < requests.length; i += 5000) {
    await frontier.add(TASK, requests.slice(i, i + 5000));
  }
}

/** Runs the measure; resolves with false when the claims broke the not-due rule. */
export async function benchClaimLatency(options: ClaimLatencyOptions): Promise<boolean> {
  const print = options.print ?? ((line: string) => console.log(line));
  const urls = options.urls ?? 1_000_000;
  const hosts = options.hosts ?? 100_000;
  const notDueCount = Math.round(hosts * (options.notDueFraction ?? 0.9));
  const claimers = options.claimers ?? 4;
  const claims = options.claimsPerClaimer ?? 300;
  const limit = options.limit ?? 64;
  print(
    `frontier-scale: Postgres frontier, ${fmt(urls)} URLs over ${fmt(hosts)} hosts, ` +
      `${fmt(notDueCount)} hosts not due; ${claimers} claimers × ${claims} claims of ${limit}`,
  );
  const setup = await openPostgresFrontier(options.postgresUrl);
  const frontiers: Frontier[] = [];
  try {
    const emptyBytes = await databaseBytes(options.postgresUrl);
    await setup.begin(TASK, { roots: [], fresh: true });
    let t = performance.now();
    await fill(setup, urls, hosts);
    const fillSeconds = (performance.now() - t) / 1000;
    print(
      `  queued ${fmt(urls)} URLs in ${fillSeconds.toFixed(1)} s (${fmt(urls / fillSeconds)}/s)`,
    );
    t = performance.now();
    const notDue = await holdHosts(setup, hosts, notDueCount);
    const held = notDue.reduce((n, v) => n + v, 0);
    print(
      `  ${fmt(held)} hosts made not due (one request each claimed and completed with ` +
        `hostWaitMs ${fmt(HOST_WAIT_MS)}) in ${((performance.now() - t) / 1000).toFixed(1)} s`,
    );
    const bytes = await databaseBytes(options.postgresUrl) - emptyBytes;
    print(
      `  database: ${fmt(bytes / 2 ** 20, 1)} MiB for ${fmt(urls)} URLs: ${
        fmt(bytes / urls)
      } B/URL (tables, indexes, the done rows; Postgres's row overhead included)`,
    );

    // Does the frontier honour hostWaitMs and perHost? One claim of more requests than there
    // are due hosts says: the old claim hands out the queue's head whatever its hosts.
    const probeOptions: HostClaimOptions = {
      owner: "probe",
      limit: hosts - held + 1000,
      leaseMs: 60_000,
      perHost: 1,
      hostHoldMs: 60_000,
    };
    const probe = await setup.claim(TASK, probeOptions);
    const probeHosts = probe.map(hostOf);
    const legacy = probeHosts.some((h) => notDue[h]) ||
      new Set(probeHosts).size < probeHosts.length;
    if (legacy) {
      await setup.release(probe);
      print(
        "  the frontier handed out hosts made not due: it does not honour hostWaitMs / perHost " +
          "(issue 16's claim is not in yet). Measuring the claim it has: the not-due hosts " +
          "written into crawler_hosts, claims with skipHostsNotDue",
      );
      await holdHostsTheOldWay(options.postgresUrl, notDue);
    } else {
      // One request of each due host done; their other 9 stay for the claimers (76,800 of
      // 90,000 at the defaults).
      await setup.complete(probe.map((claim): HostDoneOutcome => ({
        kind: "done",
        claim,
        children: [],
        hostWaitMs: 0,
      })));
    }

    // The fill's million inserts leave autovacuum work that would run during the claims on a
    // machine this small: done now, the claims meet the tables as a crawl under way has them.
    await vacuumAnalyze(options.postgresUrl);
    print(
      "  VACUUM ANALYZE after the setup; each claimer's first " + WARM_UP +
        " claims (statements prepared on its connections) are not counted",
    );
    for (let i = 0; i < claimers; i++) {
      frontiers.push(await openPostgresFrontier(options.postgresUrl, { maxConnections: 2 }));
    }
    const maxSeconds = options.maxSeconds ?? 120;
    // One claimer alone first: what a claim costs when nothing else competes for the CPU (on
    // a machine with fewer cores than claimers, the figure below measures the queue for them too).
    const alone = await runClaimers(frontiers.slice(0, 1), notDue, {
      claims: Math.min(claims, 100),
      limit,
      legacy,
      maxSeconds,
    });
    const aloneSorted = [...alone.latencies].sort((a, b) => a - b);
    print(
      `  one claimer alone: claim latency p50 ${percentile(aloneSorted, 0.5).toFixed(2)} ms, p99 ${
        percentile(aloneSorted, 0.99).toFixed(2)
      } ms (${fmt(alone.latencies.length)} claims, ${
        fmt(alone.latencies.length / alone.seconds)
      } claims/s); ${navigator.hardwareConcurrency} cores here`,
    );
    // Four claimers as fast as they can: each claims again as soon as its last batch is acked.
    const run = await runClaimers(frontiers, notDue, { claims, limit, legacy, maxSeconds });
    if (run.latencies.length < claims * claimers) {
      print(`  (stopped after ${maxSeconds} s: ${fmt(run.latencies.length)} claims made)`);
    }
    print(
      `  ${claimers} claimers back to back (each claims again once its batch is acked): ` +
        latencyFigures(run),
    );
    print(`    ${throughputFigures(run)}`);

    // Four claimers at the pace of four workers: the claims a crawl makes, not a saturated loop.
    const pace = options.pace ?? 1000;
    const pacedClaims = options.pacedClaims ?? 100;
    const intervalMs = (limit / pace) * 1000;
    await refillDueHosts(setup, notDue, claimers * (pacedClaims + WARM_UP) * limit);
    await vacuumAnalyze(options.postgresUrl);
    const paced = await runClaimers(frontiers, notDue, {
      claims: pacedClaims,
      limit,
      legacy,
      maxSeconds,
      intervalMs,
    });
    print(
      `  ${claimers} claimers at ${fmt(pace)} requests/s each (a claim of ${limit} every ` +
        `${fmt(intervalMs)} ms, about one broad-profile worker's rate): ${latencyFigures(paced)}`,
    );
    print(`    ${throughputFigures(paced)}`);
    const violations = alone.violations + run.violations + paced.violations;
    print(
      `  requests of not-due hosts handed out${legacy ? "" : ", or two of one host in a claim"}: ` +
        `${fmt(violations)}${violations === 0 ? "" : " (should be 0)"}`,
    );
    return violations === 0;
  } finally {
    // The task stays: the bench's Postgres is thrown away after it.
    for (const frontier of frontiers) await frontier.close();
    await setup.close();
  }
}
