import { newTokenSecret } from "../api/auth.js";
import type { Queryable } from "../db/client.js";
import { apiTokens, type Role } from "../db/schema/index.js";
import { appendToLedger } from "../ledger/append.js";

export type TokenRow = typeof apiTokens.$inferSelect;

/**
 * Issue an API token: only its SHA-256 is stored, the secret is returned once. Used by `POST /v1/tokens`
 * and by `keyferry token bootstrap` (the first admin token, written straight to the database).
 */
export async function issueToken(
  db: Queryable,
  request: { name: string; role: Role; createdBy: string | null; actor: string },
): Promise<{ row: TokenRow; secret: string }> {
  const { secret, prefix, hash } = newTokenSecret();
  const [row] = await db
    .insert(apiTokens)
    .values({
      name: request.name,
      role: request.role,
      secretHash: hash,
      prefix,
      createdBy: request.createdBy,
    })
    .returning();
  if (!row) throw new Error("inserting a token returned no row");
  await appendToLedger(db, {
    event: "token.created",
    actor: request.actor,
    data: { tokenId: row.id, name: row.name, role: row.role, prefix },
  });
  return { row, secret };
}
