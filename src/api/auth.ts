import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { and, eq, isNull, ne, sql } from "drizzle-orm";
import type { FastifyRequest } from "fastify";
import type { Queryable } from "../db/client.js";
import { apiTokens, type Role } from "../db/schema/index.js";
import { forbidden, unauthorized } from "./api-error.js";

/**
 * Bearer-token authentication and the three roles of SPEC section 7.
 *
 * Roles nest, as in Vault's policies: `admin` ⊇ `operator` ⊇ `auditor`. An auditor reads everything
 * (keys, destinations, distributions, operations, the ledger, queue counts) and changes nothing; an
 * operator also creates, updates, rotates, distributes, removes and deletes keys and cancels or retries
 * operations; an admin also manages kms destinations and tokens and may export keys offline. Token lists
 * are admin-only reads.
 *
 * The bootstrap admin token (KEYFERRY_ADMIN_TOKEN) is compared in constant time with the configured
 * value and is represented by a fixed `api_tokens` row (created on first use) so that idempotency records,
 * operations and tokens it creates can name it. That row is never found by hash lookup: changing the
 * environment variable retires the old secret at once. It cannot be revoked through the API.
 */

export type Access = "read" | "operate" | "admin";

export interface Caller {
  tokenId: string;
  name: string;
  role: Role;
}

export const BOOTSTRAP_TOKEN_ID = "00000000-0000-4000-8000-00000000a0a0";
export const BOOTSTRAP_TOKEN_NAME = "bootstrap-admin";
export const TOKEN_PREFIX = "kf_";

const ALLOWED: Readonly<Record<Access, readonly Role[]>> = {
  read: ["auditor", "operator", "admin"],
  operate: ["operator", "admin"],
  admin: ["admin"],
};

// Only touch last_used_at when it is older than this: one write per token per minute, not per request.
const LAST_USED_RESOLUTION = sql`interval '60 seconds'`;

export function hashSecret(secret: string): Buffer {
  return createHash("sha256").update(secret, "utf8").digest();
}

/** A new token secret: `kf_` and 256 random bits in base64url. */
export function newTokenSecret(): { secret: string; prefix: string; hash: Buffer } {
  const secret = `${TOKEN_PREFIX}${randomBytes(32).toString("base64url")}`;
  return { secret, prefix: secret.slice(0, TOKEN_PREFIX.length + 6), hash: hashSecret(secret) };
}

function bearerOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== "string") return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

function matchesAdminToken(presented: string, adminToken: string | undefined): boolean {
  if (adminToken === undefined) return false;
  // Hashing first gives equal lengths, so the comparison time says nothing about the configured token.
  return timingSafeEqual(hashSecret(presented), hashSecret(adminToken));
}

async function bootstrapCaller(db: Queryable): Promise<Caller> {
  await db
    .insert(apiTokens)
    .values({
      id: BOOTSTRAP_TOKEN_ID,
      name: BOOTSTRAP_TOKEN_NAME,
      role: "admin",
      // Not the token's hash: this row must never match a lookup by hash.
      secretHash: hashSecret(`keyferry bootstrap admin ${BOOTSTRAP_TOKEN_ID}`),
      prefix: "(env)",
    })
    .onConflictDoNothing({ target: apiTokens.id });
  return { tokenId: BOOTSTRAP_TOKEN_ID, name: BOOTSTRAP_TOKEN_NAME, role: "admin" };
}

/** Who is calling, or 401. */
export async function authenticate(
  db: Queryable,
  request: FastifyRequest,
  adminToken: string | undefined,
): Promise<Caller> {
  const presented = bearerOf(request);
  if (presented === undefined) throw unauthorized();
  if (matchesAdminToken(presented, adminToken)) return bootstrapCaller(db);
  if (!presented.startsWith(TOKEN_PREFIX)) throw unauthorized("unknown or revoked token");
  const [row] = await db
    .select({ id: apiTokens.id, name: apiTokens.name, role: apiTokens.role })
    .from(apiTokens)
    .where(
      and(
        eq(apiTokens.secretHash, hashSecret(presented)),
        isNull(apiTokens.revokedAt),
        ne(apiTokens.id, BOOTSTRAP_TOKEN_ID),
      ),
    );
  if (!row) throw unauthorized("unknown or revoked token");
  await db
    .update(apiTokens)
    .set({ lastUsedAt: sql`now()` })
    .where(
      and(
        eq(apiTokens.id, row.id),
        sql`(${apiTokens.lastUsedAt} is null or ${apiTokens.lastUsedAt} < now() - ${LAST_USED_RESOLUTION})`,
      ),
    );
  return { tokenId: row.id, name: row.name, role: row.role };
}

/** 403 unless the caller's role covers `access`. */
export function authorize(caller: Caller, access: Access, what: string): void {
  if (!ALLOWED[access].includes(caller.role)) {
    throw forbidden(`a ${caller.role} token may not ${what}`);
  }
}
