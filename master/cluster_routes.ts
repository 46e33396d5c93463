/**
 * @module
 * The HTTP routes of task control and the dashboard (docs/http-api.md; docs/operating.md,
 * "Dashboard"), added to the master's Hono app: `GET /crawler/resource/<name>`,
 * `POST /crawler/resource/<name>/pause` and `/resume`, `GET /crawler/cluster` (what the dashboard
 * draws) and the dashboard (its page at `/`, with its script and stylesheet). Errors go through
 * the app's one `onError` mapping.
 */
import type { Hono } from "hono";
import { addDashboardRoutes } from "./dashboard_page.ts";
import { resourceNameSchema } from "../proto/api_bodies.ts";
import type { ClusterView } from "./cluster_view.ts";
import type { Master } from "./master.ts";
import { parseRequest } from "./validation.ts";
import { writeOptionsOf } from "./http_app.ts";

/** Dependencies of {@linkcode addClusterRoutes}. */
export interface ClusterRouteDeps {
  master: Pick<Master, "setPaused">;
  view: ClusterView;
}

/** Adds the task-control and dashboard routes to `app`. */
export function addClusterRoutes(app: Hono, deps: ClusterRouteDeps): void {
  const { master, view } = deps;
  // Hono has already decoded the path parameter.
  const nameOf = (raw: string) => parseRequest(resourceNameSchema, raw);

  addDashboardRoutes(app);

  app.get("/crawler/cluster", async (c) => c.json(await view.snapshot()));

  app.get(
    "/crawler/resource/:name",
    async (c) => c.json(await view.resource(nameOf(c.req.param("name")))),
  );

  for (const action of ["pause", "resume"] as const) {
    app.post(`/crawler/resource/:name/${action}`, async (c) => {
      const name = nameOf(c.req.param("name"));
      // The caller's token and key go with the write when a follower forwards it to the leader.
      const options = writeOptionsOf((header) => c.req.header(header));
      const resource = await master.setPaused({ name }, action === "pause", options);
      return c.json({ resource });
    });
  }
}
