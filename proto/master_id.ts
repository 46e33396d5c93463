/**
 * @module
 * The master id, `master<id>-<host>:<grpcPort>`: the Go project's format. It is the election
 * value, so every master learns from it where the leader's gRPC server is. One function builds
 * it, one parses it.
 */

/** The parts of a master id. */
export interface MasterIdParts {
  /** The `--id` flag: letters, digits, `.` and `_` (no `-`, which separates it from the host). */
  id: string;
  /** The advertised host (IPv4, hostname, or IPv6 without brackets). */
  host: string;
  grpcPort: number;
}

/** A parsed master id, with the leader's gRPC address ready to dial. */
export interface ParsedMasterId extends MasterIdParts {
  /** `host:port` (`[v6]:port` for IPv6), for a gRPC client. */
  address: string;
}

const ID_PATTERN = /^[A-Za-z0-9_.]+$/;
const MASTER_ID_PATTERN = /^master([A-Za-z0-9_.]+)-(\[[^\]]+\]|[^:\s]+):(\d{1,5})$/;

/**
 * Builds `master<id>-<host>:<grpcPort>`. Throws `RangeError` for an id with characters that would
 * make the result ambiguous, an empty host, or a bad port.
 *
 * @example
 * ```ts
 * buildMasterId({ id: "1", host: "192.168.0.105", grpcPort: 9091 }); // "master1-192.168.0.105:9091"
 * ```
 */
export function buildMasterId(parts: MasterIdParts): string {
  if (!ID_PATTERN.test(parts.id)) {
    throw new RangeError(
      `master id must be letters, digits, "." or "_" (it is followed by "-<host>"): "${parts.id}"`,
    );
  }
  if (!parts.host || /\s/.test(parts.host)) {
    throw new RangeError(`bad advertise host: "${parts.host}"`);
  }
  if (!Number.isInteger(parts.grpcPort) || parts.grpcPort < 1 || parts.grpcPort > 65535) {
    throw new RangeError(`bad gRPC port: ${parts.grpcPort}`);
  }
  return `master${parts.id}-${hostPort(parts.host, parts.grpcPort)}`;
}

/** Parses a master id; undefined when it is not one (e.g. an election value written by hand). */
export function parseMasterId(value: string): ParsedMasterId | undefined {
  const match = MASTER_ID_PATTERN.exec(value);
  if (!match) return undefined;
  const grpcPort = Number(match[3]);
  if (grpcPort < 1 || grpcPort > 65535) return undefined;
  const host = match[2].replace(/^\[|\]$/g, "");
  return { id: match[1], host, grpcPort, address: hostPort(host, grpcPort) };
}

function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
