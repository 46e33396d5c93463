/**
 * @module
 * Loopback ports for the servers tests start.
 */

/** A loopback port that was free a moment ago (the kernel's pick): for a server started once. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

/** Where the kernel's ephemeral ports start (Linux; 32768 where it cannot be read). */
function ephemeralStart(): number {
  try {
    const range = Deno.readTextFileSync("/proc/sys/net/ipv4/ip_local_port_range");
    const start = Number(range.trim().split(/\s+/)[0]);
    return Number.isInteger(start) && start > 0 ? start : 32768;
  } catch {
    return 32768;
  }
}

const LOWEST = 10_000;

/**
 * A free loopback port below the kernel's ephemeral range, for a server a test stops and starts
 * again on the same port (etcd, Postgres, `crawler dev`). While such a server is down, a port in
 * the ephemeral range can be given to any outgoing connection on the machine as its local port,
 * and the restart fails with "address already in use" (seen in CI: etcd restarted on 42213).
 * Below the range only another explicit bind can take it.
 */
export function restartablePort(): number {
  const end = ephemeralStart();
  if (end - LOWEST < 1000) return freePort();
  // Bounded: a hundred random picks; the range holds thousands of ports.
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = LOWEST + Math.floor(Math.random() * (end - LOWEST));
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      return port;
    } catch (error) {
      if (!(error instanceof Deno.errors.AddrInUse)) throw error;
    }
  }
  throw new Error(`no free loopback port between ${LOWEST} and ${end} in 100 tries`);
}
