import { z } from "zod";
import { secretFromStored, secretToStored } from "../keys/material.js";
import type { KeyVersion, StoredKey } from "./model.js";
import type { VaultState } from "./vault-state.js";

/**
 * The state file's format. It holds no URL: kids are rendered from wherever the emulator listens, so a
 * restarted emulator serves the same keys on any port (clients holding kids of the old port must use the new
 * one). It does hold every private key, PKCS#8 or raw AES in base64: StateFile writes it owner-only.
 */

const SCHEMA_VERSION = 1;

const storedVersion = z.object({
  version: z.string().regex(/^[0-9a-f]{32}$/),
  kty: z.enum(["RSA", "RSA-HSM", "EC", "EC-HSM", "oct-HSM"]),
  keyOps: z.array(z.string()),
  enabled: z.boolean(),
  notBefore: z.number().optional(),
  expires: z.number().optional(),
  created: z.number(),
  updated: z.number(),
  tags: z.record(z.string(), z.string()).optional(),
  family: z.enum(["rsa", "ec", "oct"]),
  material: z.string(),
});

const storedState = z.object({
  schemaVersion: z.literal(SCHEMA_VERSION),
  keys: z.array(
    z.object({
      name: z.string(),
      deleted: z.object({ deletedDate: z.number(), scheduledPurgeDate: z.number() }).optional(),
      versions: z.array(storedVersion).min(1),
    }),
  ),
  purging: z.array(z.tuple([z.string(), z.number()])),
});

export type StoredState = z.infer<typeof storedState>;

export function snapshot(state: VaultState): StoredState {
  const { keys, purging } = state.all();
  return {
    schemaVersion: SCHEMA_VERSION,
    keys: keys.map((key) => ({
      name: key.name,
      ...(key.deleted ? { deleted: { ...key.deleted } } : {}),
      versions: key.versions.map(({ secret, ...rest }) => ({ ...rest, ...secretToStored(secret) })),
    })),
    purging,
  };
}

export function restore(state: VaultState, data: unknown, path: string): void {
  const parsed = storedState.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(
      `emulator state file ${path} is not valid: ${issue?.path.join(".") ?? ""} ${issue?.message ?? ""}`,
    );
  }
  const keys: StoredKey[] = parsed.data.keys.map((key) => ({
    name: key.name,
    ...(key.deleted ? { deleted: key.deleted } : {}),
    versions: key.versions.map(
      ({ family, material, ...rest }): KeyVersion => ({
        ...rest,
        secret: secretFromStored(family, material),
      }),
    ),
  }));
  state.restore(keys, parsed.data.purging);
}
