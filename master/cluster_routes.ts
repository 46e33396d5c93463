/**
 * @module
 * The HTTP routes of task control and the dashboard (SPEC §9), added to the master's Hono app:
 * `GET /crawler/resource/<name>`, `POST /crawler/resource/<name>/pause` and `/resume`,
 * `GET /crawler/cluster` (what the dashboard draws) and the dashboard page at `/`. Errors go
 * through the app's one `onError` mapping.
 */
import type { Hono } from "hono";
import { bearerToken } from "../auth/token.ts";
import { dashboardPage } from "./dashboard_page.ts";
import { resourceNameSchema } from "../proto/api_bodies.ts";
import type { ClusterView } from "./cluster_view.ts";
import type { Master } from "./master.ts";
import { parseRequest } from "./validation.ts";

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

  app.get("/", (c) => c.html(dashboardPage()));

  app.get("/crawler/cluster", async (c) => c.json(await view.snapshot()));

  app.get(
    "/crawler/resource/:name",
    async (c) => c.json(await view.resource(nameOf(c.req.param("name")))),
  );

  for (const action of ["pause", "resume"] as const) {
    app.post(`/crawler/resource/:name/${action}`, async (c) => {
      const name = nameOf(c.req.param("name"));
      // The caller's token goes with the write when a follower forwards it to the leader.
      const token = bearerToken(c.req.header("authorization"));
      const resource = await master.setPaused({ name }, action === "pause", { token });
      return c.json({ resource });
    });
  }
}
