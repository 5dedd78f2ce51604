import { createHash } from "node:crypto";
import { eq } from "drizzle-orm";
import { unseal } from "../crypto/seal.js";
import { zero } from "../crypto/zero.js";
import type { RootKeyRing } from "../custody/root-keys.js";
import type { Queryable } from "../db/client.js";
import { kms } from "../db/schema/index.js";
import { InvalidInputError } from "../errors/invalid-input-error.js";
import { KeyferryError } from "../errors/keyferry-error.js";
import { awsCredentialsSchema, azureCredentialsSchema, kmsOptionsSchema } from "../kms/options.js";
import type { KmsDestination } from "../providers/kms-provider.js";
import type { DestinationRef } from "./engine.js";

export type KmsRow = typeof kms.$inferSelect;

export interface LoadedDestination {
  id: string;
  destination: KmsDestination;
  /** What the shared limits are keyed by: no credentials. */
  ref: DestinationRef;
}

export async function loadDestination(
  db: Queryable,
  ring: RootKeyRing,
  kmsId: string,
): Promise<LoadedDestination> {
  const [row] = await db.select().from(kms).where(eq(kms.id, kmsId));
  if (!row) throw new KeyferryError("kms_not_found", `kms ${kmsId} does not exist`, { status: 404 });
  return toDestination(row, ring);
}

/** A kms row as providers see it: credentials unsealed into memory only, options parsed strictly. */
export function toDestination(row: KmsRow, ring: RootKeyRing): LoadedDestination {
  const options = kmsOptionsSchema.safeParse(row.options);
  if (!options.success) {
    throw new InvalidInputError("kms_options_invalid", `kms ${row.name} has invalid options`, {
      issues: options.error.issues.map((i) => i.path.join(".")),
    });
  }
  const destination: KmsDestination = {
    name: row.name,
    provider: row.provider,
    keyCollection: row.keyCollection,
    credentials: credentialsOf(row, ring),
    options: options.data,
    revision: row.revision,
  };
  return {
    id: row.id,
    destination,
    ref: {
      name: row.name,
      provider: row.provider,
      options: options.data,
      quotaScope: quotaScopeOf(destination),
    },
  };
}

function credentialsOf(row: KmsRow, ring: RootKeyRing): KmsDestination["credentials"] {
  if (!row.sealedCredentials) return undefined;
  const plain = unseal(ring.all, row.sealedCredentials, { purpose: "kms-credentials", name: row.name });
  let parsed: unknown;
  try {
    parsed = JSON.parse(plain.toString("utf8"));
  } catch {
    parsed = undefined;
  } finally {
    zero(plain);
  }
  const schema = row.provider === "awskms" ? awsCredentialsSchema : azureCredentialsSchema;
  const result = schema.safeParse(parsed);
  // Only the failing fields' names: the values are the secrets themselves.
  if (!result.success) {
    throw new InvalidInputError("kms_credentials_invalid", `kms ${row.name} has malformed credentials`, {
      fields: result.error.issues.map((i) => i.path.join(".")),
    });
  }
  return result.data;
}

/**
 * AWS quotas are per account and region: the region, the endpoint and the access key id (or the default
 * chain) stand for them; Azure limits are per vault. Hashed: the scope ends up in Redis key names.
 */
export function quotaScopeOf(destination: KmsDestination): string {
  const credentials = destination.credentials;
  const identity =
    destination.provider === "awskms"
      ? [
          destination.keyCollection,
          destination.options.endpoint ?? "",
          credentials && "accessKeyId" in credentials ? credentials.accessKeyId : "default-chain",
        ]
      : [destination.keyCollection.toLowerCase().replace(/\/+$/, "")];
  const digest = createHash("sha256")
    .update([destination.provider, ...identity].join("\n"))
    .digest("hex");
  return `${destination.provider}-${digest.slice(0, 16)}`;
}
