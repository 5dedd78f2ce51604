import { isIP } from "node:net";

/**
 * Whether a host is this machine. Plain http, relaxed challenge verification and placeholder credentials
 * are allowed only there: that is where the emulators run (SPEC section 4).
 */
export function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (host === "localhost" || host === "::1") return true;
  return isIP(host) === 4 && host.startsWith("127.");
}
