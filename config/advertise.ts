/**
 * @module
 * The host other processes use to reach this one (`--advertise`).
 */

/**
 * The first non-loopback IPv4 address of this machine, as the Go project chose; 127.0.0.1
 * when there is none. `interfaces` is injectable for tests.
 */
export function defaultAdvertiseHost(
  interfaces: () => Deno.NetworkInterfaceInfo[] = Deno.networkInterfaces,
): string {
  try {
    const found = interfaces().find((i) => i.family === "IPv4" && !i.address.startsWith("127."));
    return found?.address ?? "127.0.0.1";
  } catch {
    return "127.0.0.1";
  }
}
