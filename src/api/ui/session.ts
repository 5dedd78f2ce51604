import { createHash, createHmac, hkdfSync, timingSafeEqual } from "node:crypto";
import { and, eq, isNull } from "drizzle-orm";
import type { Queryable } from "../../db/client.js";
import { apiTokens } from "../../db/schema/index.js";
import type { Caller } from "../auth.js";

/**
 * The dashboard's cookie session, for the pages a browser loads without our bearer header (@bull-board's
 * job view and its API). `POST /ui/session` (bearer-authenticated) issues it; the cookie holds no token:
 * only the token's id and an expiry, MACed with a key derived from the root key and the bootstrap admin
 * token (HKDF), so every API process accepts it and changing either ends every session. Each request
 * re-reads the token row: a revoked token's sessions stop at once, and the role is always the current one.
 */

export const SESSION_COOKIE = "kf_ui_session";
export const SESSION_PATH = "/ui";
export const SESSION_TTL_SECONDS = 3_600;

const FORMAT = "v1";

export interface SessionCodec {
  /** The cookie value for `tokenId`, valid until `expiresAt` (seconds since the epoch). */
  issue(tokenId: string, expiresAt: number): string;
  /** The token id a cookie value names, if its MAC matches and it has not expired. */
  open(value: string, nowSeconds: number): string | null;
}

export function createSessionCodec(rootKey: Uint8Array, adminToken: string | undefined): SessionCodec {
  const salt = createHash("sha256")
    .update(adminToken ?? "", "utf8")
    .digest();
  const key = Buffer.from(hkdfSync("sha256", rootKey, salt, "keyferry ui session v1", 32));
  const mac = (payload: string) => createHmac("sha256", key).update(payload, "utf8").digest();
  return {
    issue(tokenId, expiresAt) {
      const payload = `${FORMAT}.${Buffer.from(JSON.stringify({ t: tokenId, e: expiresAt })).toString("base64url")}`;
      return `${payload}.${mac(payload).toString("base64url")}`;
    },
    open(value, nowSeconds) {
      const [format, body, tag] = value.split(".");
      if (format !== FORMAT || !body || !tag || value.split(".").length !== 3) return null;
      const expected = mac(`${format}.${body}`);
      const presented = Buffer.from(tag, "base64url");
      if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) return null;
      try {
        const claims = JSON.parse(Buffer.from(body, "base64url").toString("utf8")) as {
          t?: unknown;
          e?: unknown;
        };
        if (typeof claims.t !== "string" || typeof claims.e !== "number" || claims.e <= nowSeconds)
          return null;
        return claims.t;
      } catch {
        return null;
      }
    },
  };
}

/** The value of one cookie in a `Cookie` header (no cookie library for two cookies' worth of parsing). */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function sessionCookie(value: string, maxAgeSeconds: number, secure: boolean): string {
  return [
    `${SESSION_COOKIE}=${value}`,
    `Path=${SESSION_PATH}`,
    `Max-Age=${maxAgeSeconds}`,
    "HttpOnly",
    "SameSite=Strict",
    ...(secure ? ["Secure"] : []),
  ].join("; ");
}

/** The caller a session names, if its token is still there and not revoked. */
export async function sessionCaller(db: Queryable, tokenId: string): Promise<Caller | null> {
  const [row] = await db
    .select({ id: apiTokens.id, name: apiTokens.name, role: apiTokens.role })
    .from(apiTokens)
    .where(and(eq(apiTokens.id, tokenId), isNull(apiTokens.revokedAt)));
  return row ? { tokenId: row.id, name: row.name, role: row.role } : null;
}
