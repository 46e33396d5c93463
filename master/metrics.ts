/**
 * @module
 * The master's Prometheus metrics: request counters kept here, gauges read at scrape time.
 */

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
  readonly #http = new Map<string, { labels: Record<string, string>; count: number }>();
  readonly #grpc = new Map<string, { labels: Record<string, string>; count: number }>();

  /** Counts an HTTP request. `route` is the route pattern (bounded), not the raw path. */
  countHttp(method: string, route: string, status: number): void {
    bump(this.#http, { method, route, status: String(status) });
  }

  /** Counts a gRPC call by method and status code name. */
  countGrpc(method: string, code: string): void {
    bump(this.#grpc, { method, code });
  }

  /** The Prometheus text exposition of the counters and `gauges`. */
  render(gauges: MasterGauges): string {
    const lines: string[] = [];
    const gauge = (name: string, help: string, value: number | undefined) => {
      if (value === undefined) return;
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name} ${value}`);
    };
    gauge(
      "crawler_master_is_leader",
      "1 while this master is the leader.",
      Number(gauges.isLeader),
    );
    gauge("crawler_master_leader_known", "1 while a leader is known.", Number(gauges.leaderKnown));
    gauge(
      "crawler_master_store_up",
      "1 when the coordination store answered.",
      Number(gauges.storeUp),
    );
    gauge("crawler_master_resources", "Resources (tasks) in the store.", gauges.resources);
    gauge("crawler_master_workers", "Registered workers.", gauges.workers);
    counter(
      lines,
      "crawler_master_http_requests_total",
      "HTTP requests by route and status.",
      this.#http,
    );
    counter(
      lines,
      "crawler_master_grpc_requests_total",
      "gRPC calls by method and code.",
      this.#grpc,
    );
    return lines.join("\n") + "\n";
  }
}

function bump(
  series: Map<string, { labels: Record<string, string>; count: number }>,
  labels: Record<string, string>,
): void {
  const key = JSON.stringify(labels);
  const entry = series.get(key);
  if (entry) entry.count++;
  else series.set(key, { labels, count: 1 });
}

function counter(
  lines: string[],
  name: string,
  help: string,
  series: Map<string, { labels: Record<string, string>; count: number }>,
): void {
  lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`);
  for (const { labels, count } of series.values()) {
    const text = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",");
    lines.push(`${name}{${text}} ${count}`);
  }
}

function escapeLabel(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}
