/**
 * @module
 * The master's Prometheus metrics on npm `prom-client`: request counters kept here, gauges read
 * at scrape time, and the process metrics.
 */
import { Counter, Gauge, Registry } from "prom-client";
import { registerProcessMetrics } from "../metrics/process_metrics.ts";

/** Gauges read when `/metrics` is scraped. Counts are undefined when the store did not answer. */
export interface MasterGauges {
  isLeader: boolean;
  leaderKnown: boolean;
  storeUp: boolean;
  resources?: number;
  workers?: number;
}

/** Request counters of one master (HTTP by route and status, gRPC by method and code). */
export class MasterMetrics {
  readonly #registry = new Registry();
  readonly #http: Counter<"method" | "route" | "status">;
  readonly #grpc: Counter<"method" | "code">;
  readonly #gauges: Record<keyof MasterGauges, Gauge>;

  constructor() {
    const registers = [this.#registry];
    const gauge = (name: string, help: string) => new Gauge({ name, help, registers });
    this.#gauges = {
      isLeader: gauge("crawler_master_is_leader", "1 while this master is the leader."),
      leaderKnown: gauge("crawler_master_leader_known", "1 while a leader is known."),
      storeUp: gauge("crawler_master_store_up", "1 when the coordination store answered."),
      resources: gauge("crawler_master_resources", "Resources (tasks) in the store."),
      workers: gauge("crawler_master_workers", "Registered workers."),
    };
    this.#http = new Counter({
      name: "crawler_master_http_requests_total",
      help: "HTTP requests by route and status.",
      labelNames: ["method", "route", "status"],
      registers,
    });
    this.#grpc = new Counter({
      name: "crawler_master_grpc_requests_total",
      help: "gRPC calls by method and code.",
      labelNames: ["method", "code"],
      registers,
    });
    registerProcessMetrics(this.#registry);
  }

  /** Counts an HTTP request. `route` is the route pattern (bounded), not the raw path. */
  countHttp(method: string, route: string, status: number): void {
    this.#http.inc({ method, route, status: String(status) });
  }

  /** Counts a gRPC call by method and status code name. */
  countGrpc(method: string, code: string): void {
    this.#grpc.inc({ method, code });
  }

  /** The Prometheus text exposition of the counters, `gauges` and the process metrics. */
  async render(gauges: MasterGauges): Promise<string> {
    // A count the store did not give keeps its last value; crawler_master_store_up says so.
    for (const key of Object.keys(this.#gauges) as Array<keyof MasterGauges>) {
      const value = gauges[key];
      if (value !== undefined) this.#gauges[key].set(Number(value));
    }
    return await this.#registry.metrics();
  }

  /** The content type of {@linkcode render}'s text. */
  get contentType(): string {
    return this.#registry.contentType;
  }
}
