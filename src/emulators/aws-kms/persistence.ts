import { createPrivateKey } from "node:crypto";
import type { AwsWrappingAlgorithm } from "../../crypto/wrap-aws.js";
import type { KeyUsage, SupportedKeySpec } from "./key-specs.js";
import {
  type Alias,
  type ExpirationModel,
  type ImportParameters,
  type KeyMaterialState,
  type KeyState,
  type KmsKey,
  KmsState,
  type Origin,
} from "./state.js";

/**
 * The state file's JSON form (written by common/state-file.ts, owner-readable only). Key material and the
 * private halves of wrapping keys are stored as base64 (raw AES bytes, PKCS#8 DER): the file is the emulated
 * cloud's HSM and must be protected like one.
 */

const FORMAT = "keyferry-aws-kms-emulator";
const VERSION = 1;

interface MaterialSnapshot {
  id: string;
  material: string | null;
  state: KeyMaterialState;
  description: string | null;
  expirationModel: ExpirationModel | null;
  validTo: number | null;
  rotationDate: number | null;
  rotationType: "ON_DEMAND" | null;
}

interface KeySnapshot {
  id: string;
  region: string;
  accountId: string;
  createdAt: number;
  description: string;
  keySpec: SupportedKeySpec;
  keyUsage: KeyUsage;
  origin: Origin;
  state: KeyState;
  deletionDate: number | null;
  pendingWindowInDays: number | null;
  tags: Array<[string, string]>;
  materials: MaterialSnapshot[];
  publicKey: string | null;
  onDemandRotations: number;
  /** Absent in files written before multi-Region keys were emulated. */
  multiRegion?: "PRIMARY" | "REPLICA" | null;
}

interface ImportParametersSnapshot {
  token: string;
  keyId: string;
  region: string;
  algorithm: AwsWrappingAlgorithm;
  wrappingKeySpec: ImportParameters["wrappingKeySpec"];
  privateKey: string;
  validTo: number;
}

export interface StateSnapshot {
  format: typeof FORMAT;
  version: typeof VERSION;
  keys: KeySnapshot[];
  aliases: Alias[];
  importParameters: ImportParametersSnapshot[];
}

const b64 = (bytes: Buffer | undefined) => (bytes ? bytes.toString("base64") : null);
const bytes = (text: string | null) => (text === null ? undefined : Buffer.from(text, "base64"));
const orNull = <T>(value: T | undefined) => (value === undefined ? null : value);
const orUndefined = <T>(value: T | null) => (value === null ? undefined : value);

export function snapshotOf(state: KmsState): StateSnapshot {
  return {
    format: FORMAT,
    version: VERSION,
    keys: [...state.keys.values()].map((key) => ({
      id: key.id,
      region: key.region,
      accountId: key.accountId,
      createdAt: key.createdAt,
      description: key.description,
      keySpec: key.keySpec,
      keyUsage: key.keyUsage,
      origin: key.origin,
      state: key.state,
      deletionDate: orNull(key.deletionDate),
      pendingWindowInDays: orNull(key.pendingWindowInDays),
      tags: [...key.tags],
      materials: key.materials.map((record) => ({
        id: record.id,
        material: b64(record.material),
        state: record.state,
        description: orNull(record.description),
        expirationModel: orNull(record.expirationModel),
        validTo: orNull(record.validTo),
        rotationDate: orNull(record.rotationDate),
        rotationType: orNull(record.rotationType),
      })),
      publicKey: b64(key.publicKey),
      onDemandRotations: key.onDemandRotations,
      multiRegion: orNull(key.multiRegion),
    })),
    aliases: [...state.aliases.values()].map((alias) => ({ ...alias })),
    importParameters: [...state.importParameters].map(([token, parameters]) => ({
      token,
      keyId: parameters.keyId,
      region: parameters.region,
      algorithm: parameters.algorithm,
      wrappingKeySpec: parameters.wrappingKeySpec,
      privateKey: parameters.privateKey.export({ type: "pkcs8", format: "der" }).toString("base64"),
      validTo: parameters.validTo,
    })),
  };
}

export function stateFromSnapshot(snapshot: StateSnapshot, path: string): KmsState {
  if (snapshot.format !== FORMAT || snapshot.version !== VERSION) {
    throw new Error(`${path} is not a keyferry AWS KMS emulator state file (version ${VERSION})`);
  }
  const state = new KmsState();
  for (const saved of snapshot.keys) {
    const key: KmsKey = {
      ...saved,
      deletionDate: orUndefined(saved.deletionDate),
      pendingWindowInDays: orUndefined(saved.pendingWindowInDays),
      tags: new Map(saved.tags),
      materials: saved.materials.map((record) => ({
        id: record.id,
        material: bytes(record.material),
        state: record.state,
        description: orUndefined(record.description),
        expirationModel: orUndefined(record.expirationModel),
        validTo: orUndefined(record.validTo),
        rotationDate: orUndefined(record.rotationDate),
        rotationType: orUndefined(record.rotationType),
      })),
      publicKey: bytes(saved.publicKey),
      privateKeyObject: undefined,
      multiRegion: saved.multiRegion ?? undefined,
    };
    state.putKey(key);
  }
  for (const alias of snapshot.aliases) state.putAlias({ ...alias });
  for (const saved of snapshot.importParameters) {
    state.importParameters.set(saved.token, {
      keyId: saved.keyId,
      region: saved.region,
      algorithm: saved.algorithm,
      wrappingKeySpec: saved.wrappingKeySpec,
      privateKey: createPrivateKey({
        key: Buffer.from(saved.privateKey, "base64"),
        format: "der",
        type: "pkcs8",
      }),
      validTo: saved.validTo,
    });
  }
  return state;
}
