/**
 * @module
 * A site for fault tests that knows who asked: every worker process is configured with its own
 * HTTP proxy (`fetcher.proxy`), and each of those proxy ports is this site, so every request is
 * recorded with the task it belongs to, the worker that made it, and when it arrived.
 *
 * Each task crawls its own endless tree under `/t/<task>/`: page `n` links to `2n+1` and
 * `2n+2`, so a task never finishes by itself; its root `/t/<task>/0` is requested exactly once
 * per start of the task (the engine dedupes URLs within a run), which is how runs ("sessions")
 * are told apart.
 */

/** One request, as it arrived. */
export interface SiteRequest {
  task: string;
  /** The worker whose proxy port it came through. */
  worker: string;
  path: string;
  /** Arrival time, epoch ms. */
  at: number;
}

/** One run of a task on one worker, from its root request to its last request. */
export interface Session {
  task: string;
  worker: string;
  start: number;
  end: number;
}

/** Options for {@linkcode startAttributingSite}. */
export interface AttributingSiteOptions {
  /** Delay before each answer, ms. Default 50. */
  latencyMs?: number;
}

export interface AttributingSite {
  /** The site's own base URL; tasks point here, requests reach it through a worker's proxy. */
  readonly url: string;
  /** Every request, in arrival order. */
  readonly requests: SiteRequest[];
  /** Opens a proxy port for `worker`; returns the proxy URL for its `fetcher.proxy`. */
  proxyFor(worker: string): string;
  /** The URL a task named `task` starts from. */
  taskUrl(task: string): string;
  /** Holds `worker`'s answers back (its requests are still recorded) until `release`. */
  hold(worker: string): void;
  /** Sends `worker`'s held answers and stops holding. */
  release(worker: string): void;
  /** How many of `worker`'s requests wait for their answer (held or in their latency). */
  outstanding(worker: string): number;
  close(): Promise<void>;
}

/** Starts the site and its own (direct) port on free loopback ports. */
export function startAttributingSite(options: AttributingSiteOptions = {}): AttributingSite {
  const latencyMs = options.latencyMs ?? 50;
  const requests: SiteRequest[] = [];
  const servers: Deno.HttpServer[] = [];

  const held = new Map<string, Array<() => void>>();
  const outstanding = new Map<string, number>();

  const handlerFor = (worker: string) => async (req: Request): Promise<Response> => {
    const path = new URL(req.url).pathname;
    const match = /^\/t\/([^/]+)\/(\d+)$/.exec(path);
    if (!match) return new Response("not found", { status: 404 });
    const task = decodeURIComponent(match[1]);
    requests.push({ task, worker, path, at: Date.now() });
    outstanding.set(worker, (outstanding.get(worker) ?? 0) + 1);
    try {
      if (latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, latencyMs));
      const waiting = held.get(worker);
      if (waiting) await new Promise<void>((resolve) => waiting.push(resolve));
    } finally {
      outstanding.set(worker, outstanding.get(worker)! - 1);
    }
    const n = Number(match[2]);
    const links = [2 * n + 1, 2 * n + 2]
      .map((child) => `<a href="/t/${match[1]}/${child}">page ${child}</a>`)
      .join("\n");
    return new Response(
      `<!DOCTYPE html><html><head><title>${task} ${n}</title></head><body>${links}</body></html>`,
      { headers: { "content-type": "text/html; charset=utf-8" } },
    );
  };

  const listen = (worker: string) => {
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      handlerFor(worker),
    );
    servers.push(server);
    return `http://127.0.0.1:${server.addr.port}`;
  };

  const url = listen("(direct)");
  return {
    url,
    requests,
    proxyFor: listen,
    taskUrl: (task) => `${url}/t/${encodeURIComponent(task)}/0`,
    hold: (worker) => {
      if (!held.has(worker)) held.set(worker, []);
    },
    release: (worker) => {
      const waiting = held.get(worker) ?? [];
      held.delete(worker);
      for (const resolve of waiting) resolve();
    },
    outstanding: (worker) => outstanding.get(worker) ?? 0,
    close: async () => {
      for (const worker of [...held.keys()]) {
        const waiting = held.get(worker)!;
        held.delete(worker);
        for (const resolve of waiting) resolve();
      }
      await Promise.all(servers.map((server) => server.shutdown()));
    },
  };
}

/**
 * A worker silent this long for a task has stopped running it. With the durable frontier a
 * task that comes back to a worker resumes without fetching its root again, so without this
 * its session before the move and after the move back would read as one long session.
 */
const SESSION_GAP_MS = 1000;

/**
 * Splits the request log into sessions: a root request starts one for its task and worker, and
 * so does a request after the worker was silent for the task longer than `SESSION_GAP_MS`.
 */
export function sessionsOf(requests: readonly SiteRequest[]): Session[] {
  const open = new Map<string, Session>();
  const sessions: Session[] = [];
  for (const request of requests) {
    const key = `${request.task}\u0000${request.worker}`;
    let session = open.get(key);
    if (
      !session || request.path.endsWith("/0") || request.at - session.end > SESSION_GAP_MS
    ) {
      session = { task: request.task, worker: request.worker, start: request.at, end: request.at };
      open.set(key, session);
      sessions.push(session);
    }
    session.end = Math.max(session.end, request.at);
  }
  return sessions;
}

/** Where two workers crawled one task at the same time, and for how long. */
export interface DoubleRun {
  task: string;
  workers: [string, string];
  /** How long both sessions overlapped, ms (0: one ended the very ms the other began). */
  ms: number;
}

/**
 * Every overlap between sessions of one task on different workers: a double run. A session's
 * span runs from its root request to its last request, so a double run is seen only when both
 * workers actually fetched for the task across the same moment.
 */
export function doubleRuns(requests: readonly SiteRequest[]): DoubleRun[] {
  const byTask = new Map<string, Session[]>();
  for (const session of sessionsOf(requests)) {
    const list = byTask.get(session.task) ?? [];
    list.push(session);
    byTask.set(session.task, list);
  }
  const found: DoubleRun[] = [];
  for (const [task, sessions] of byTask) {
    for (let i = 0; i < sessions.length; i++) {
      for (let j = i + 1; j < sessions.length; j++) {
        const a = sessions[i];
        const b = sessions[j];
        if (a.worker === b.worker) continue;
        const from = Math.max(a.start, b.start);
        const to = Math.min(a.end, b.end);
        if (from < to) found.push({ task, workers: [a.worker, b.worker], ms: to - from });
      }
    }
  }
  return found;
}
