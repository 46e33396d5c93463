/**
 * @module
 * The master's HTTP API (docs/http-api.md) as a Hono app. `createApp` takes its dependencies and
 * opens no port, so tests drive it with `app.request()`; `run_master.ts` serves it.
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { bearerToken, PROBE_PATHS, requireToken } from "../auth/mod.ts";
import type { Logger } from "../log/logger.ts";
import { silentLogger } from "../log/logger.ts";
import type {
  ErrorResponse,
  LeaderResponse,
  ResourceListResponse,
  WorkerListResponse,
} from "../proto/api_bodies.ts";
import { IDEMPOTENCY_KEY_HEADER } from "../proto/idempotency.ts";
import { BodyTooLargeError, errorReply, InvalidArgumentError } from "../errors/mod.ts";
import type { Master } from "./master.ts";
import type { MasterGauges, MasterMetrics } from "./metrics.ts";
import type { ClusterView } from "./cluster_view.ts";
import { DASHBOARD_PATHS, DASHBOARD_SCRIPT_PATH, DASHBOARD_STYLE_PATH } from "./dashboard_page.ts";
import { addClusterRoutes } from "./cluster_routes.ts";
import { addItemsRoute } from "./items_route.ts";
import type { ResultReader } from "../storage/result_reader.ts";
import { pageOf, pageRequestFromQuery } from "./paging.ts";

/** The largest request body accepted, in bytes (64 KiB). */
export const DEFAULT_BODY_LIMIT_BYTES = 64 * 1024;

/** Dependencies of {@linkcode createApp}. */
export interface AppDeps {
  master: Master;
  /** Request counters; `/metrics` renders them. Default: counted nowhere, rendered empty. */
  metrics?: MasterMetrics;
  logger?: Logger;
  /** Largest accepted body. Default: {@linkcode DEFAULT_BODY_LIMIT_BYTES}. */
  bodyLimitBytes?: number;
  /**
   * The bearer token every request but the probes must carry (docs/operating.md, "Auth"). Default:
   * none, every request is served (a master on loopback only, or `--insecure`).
   */
  token?: string;
  /** Serve `/metrics` without the token (`auth.metrics = "open"`). Default false. */
  openMetrics?: boolean;
  /**
   * More paths served without the token: pages that hold no data and ask for the token
   * themselves (the dashboard's `/`). Default: none.
   */
  publicPaths?: Iterable<string>;
  /** The cluster as this master sees it: adds task control and the dashboard. Default: none. */
  view?: ClusterView;
  /**
   * Where tasks' stored items are read: adds `GET /crawler/resource/<name>/items`. Default:
   * none (the route is not served).
   */
  results?: ResultReader;
}

const RESOURCE_ROUTE = "/crawler/resource";
const KNOWN_ROUTES = new Set([
  RESOURCE_ROUTE,
  "/crawler/workers",
  "/crawler/leader",
  "/healthz",
  "/readyz",
  "/metrics",
  "/crawler/cluster",
  ...DASHBOARD_PATHS,
]);
/**
 * Probes are polled all the time; logging them at info would drown the log. The dashboard's
 * script and stylesheet come with its page, which is logged.
 */
const QUIET_ROUTES = new Set([
  "/healthz",
  "/readyz",
  "/metrics",
  "/crawler/cluster",
  DASHBOARD_SCRIPT_PATH,
  DASHBOARD_STYLE_PATH,
]);

/**
 * Builds the HTTP app. Every error answer is `{"error": "<message>"}` with the status from the
 * one mapping in `errors/error_reply.ts`, applied in `onError`.
 *
 * @example
 * ```ts
 * const app = createApp({ master });
 * const res = await app.request("/crawler/leader");
 * ```
 */
export function createApp(deps: AppDeps): Hono {
  const { master, metrics } = deps;
  const logger = deps.logger ?? silentLogger;
  const maxSize = deps.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES;
  const app = new Hono();

  app.use("*", async (c, next) => {
    const path = c.req.path;
    const isWrite = c.req.method === "POST" || c.req.method === "DELETE";
    // Writes are logged with their parameters once the body is read (see `readJson`).
    if (!(isWrite && path === RESOURCE_ROUTE)) {
      const level = QUIET_ROUTES.has(path) ? "debug" : "info";
      logger[level]("receive request", { method: `${c.req.method} ${path}` });
    }
    await next();
    metrics?.countHttp(c.req.method, KNOWN_ROUTES.has(path) ? path : "unmatched", c.res.status);
  });

  app.use(
    "*",
    requireToken({
      token: deps.token,
      publicPaths: [
        ...PROBE_PATHS,
        ...(deps.openMetrics ? ["/metrics"] : []),
        ...(deps.publicPaths ?? []),
      ],
    }),
  );
  // The caller's token and idempotency key go with a write a follower forwards to the leader.
  const writeOptions = (c: { req: { header(name: string): string | undefined } }) =>
    writeOptionsOf(c.req.header.bind(c.req));

  const limit = bodyLimit({
    maxSize,
    onError: () => {
      throw new BodyTooLargeError(`request body is larger than ${maxSize} bytes`);
    },
  });

  const readJson = async (method: string, request: Request): Promise<unknown> => {
    const text = await request.text();
    if (text.trim() === "") throw new InvalidArgumentError("body: required (a JSON object)");
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (error) {
      throw new InvalidArgumentError(`body: not valid JSON (${(error as Error).message})`);
    }
    logger.info("receive request", { method: `${method} ${RESOURCE_ROUTE}`, params: body });
    return body;
  };

  app.post(RESOURCE_ROUTE, limit, async (c) => {
    const body = await readJson("POST", c.req.raw);
    // No `c.req.raw.signal`: Deno aborts it after every response (legacy behaviour, with a
    // warning); forwarded calls are bounded by their own deadline instead.
    return c.json(await master.addResource(body, writeOptions(c)));
  });

  app.delete(RESOURCE_ROUTE, limit, async (c) => {
    const body = await readJson("DELETE", c.req.raw);
    await master.deleteResource(body, writeOptions(c));
    return c.json({});
  });

  app.get(RESOURCE_ROUTE, async (c) => {
    const request = pageRequestFromQuery(c.req.query("limit"), c.req.query("after"));
    const page = pageOf(await master.listResources(), (r) => r.Name, request);
    const answer: ResourceListResponse = { resources: page.items, ...next(page.next) };
    return c.json(answer);
  });

  app.get("/crawler/workers", async (c) => {
    const request = pageRequestFromQuery(c.req.query("limit"), c.req.query("after"));
    const page = pageOf(await master.listWorkers(), (w) => w.id, request);
    const answer: WorkerListResponse = { workers: page.items, ...next(page.next) };
    return c.json(answer);
  });

  if (deps.view) addClusterRoutes(app, { master, view: deps.view });
  if (deps.results) addItemsRoute(app, { master, results: deps.results, logger });

  app.get("/crawler/leader", (c) => {
    const status = master.status();
    const answer: LeaderResponse = {
      leader: status.leader ?? null,
      self: status.self,
      isLeader: status.isLeader,
    };
    return c.json(answer);
  });

  app.get("/healthz", (c) => c.json({ status: "ok" }));

  app.get("/readyz", async (c) => {
    await master.checkReady();
    return c.json({ status: "ready", leader: master.leaderId });
  });

  app.get("/metrics", async (c) => {
    const status = master.status();
    const gauges: MasterGauges = {
      isLeader: status.isLeader,
      leaderKnown: status.leader !== undefined,
      storeUp: false,
    };
    try {
      const [resources, workers] = await Promise.all([
        master.listResources(),
        master.listWorkers(),
      ]);
      Object.assign(gauges, {
        storeUp: true,
        resources: resources.length,
        workers: workers.length,
      });
    } catch (error) {
      logger.warn("metrics: the store did not answer", { error });
    }
    const text = metrics ? await metrics.render(gauges) : "";
    return c.text(text, 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
  });

  app.notFound((c) => {
    const answer: ErrorResponse = { error: `no route for ${c.req.method} ${c.req.path}` };
    return c.json(answer, 404);
  });

  app.onError((error, c) => {
    if (error instanceof HTTPException) {
      // Hono's own errors (e.g. a malformed request it rejects) keep their status.
      const answer: ErrorResponse = { error: error.message || `HTTP ${error.status}` };
      return c.json(answer, error.status as ContentfulStatusCode);
    }
    const reply = errorReply(error);
    if (reply.kind === undefined) {
      logger.error("request failed", { method: `${c.req.method} ${c.req.path}`, error });
    }
    const answer: ErrorResponse = { error: reply.message };
    return c.json(answer, reply.status as ContentfulStatusCode);
  });

  return app;
}

/**
 * A write's options from its request headers: the caller's bearer token and its
 * `Idempotency-Key`, which a follower sends on to the leader.
 */
export function writeOptionsOf(
  header: (name: string) => string | undefined,
): { token?: string; idempotencyKey?: string } {
  const token = bearerToken(header("authorization"));
  const key = header(IDEMPOTENCY_KEY_HEADER);
  return {
    ...(token === undefined ? {} : { token }),
    ...(key === undefined ? {} : { idempotencyKey: key }),
  };
}

function next(after: string | undefined): { next?: string } {
  return after === undefined ? {} : { next: after };
}
