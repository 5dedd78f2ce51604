import { createHash } from "node:crypto";

/** The fields of a ledger entry that its hash covers, in their stored form. */
export interface ChainedFields {
  seq: number;
  recordedAt: Date;
  event: string;
  operationId: string | null;
  keyName: string | null;
  kmsName: string | null;
  actor: string | null;
  data: Record<string, unknown>;
}

/** The `prevHash` of entry 1. */
export const GENESIS_HASH: Buffer = Buffer.alloc(32);

const DOMAIN = "keyferry/ledger/v1\n";

/**
 * JSON with object keys sorted at every depth, so the same entry always hashes the same after a round trip
 * through `jsonb` (which reorders keys). Only JSON values are accepted: the ledger stores nothing else.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === "boolean" || typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new TypeError("ledger data: numbers must be finite");
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  throw new TypeError(`ledger data: ${typeof value} is not a JSON value`);
}

/** hash_n = SHA-256(domain || hash_{n-1} || canonical JSON of entry n). */
export function entryHash(prevHash: Uint8Array, fields: ChainedFields): Buffer {
  const body = canonicalJson({
    seq: fields.seq,
    recordedAt: fields.recordedAt.toISOString(),
    event: fields.event,
    operationId: fields.operationId,
    keyName: fields.keyName,
    kmsName: fields.kmsName,
    actor: fields.actor,
    data: fields.data,
  });
  return createHash("sha256").update(DOMAIN).update(prevHash).update(body).digest();
}
