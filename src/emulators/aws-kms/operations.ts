import type { OperationHandler } from "./context.js";
import { createAlias, deleteAlias, listAliases, updateAlias } from "./ops/alias-ops.js";
import { decrypt, encrypt, getPublicKey } from "./ops/crypto-ops.js";
import { cancelKeyDeletion, scheduleKeyDeletion } from "./ops/deletion-ops.js";
import { deleteImportedKeyMaterial, importKeyMaterial } from "./ops/import-ops.js";
import { getParametersForImport } from "./ops/import-parameters-ops.js";
import { createKey, describeKey, disableKey, enableKey, listKeys } from "./ops/key-ops.js";
import { replicateKey } from "./ops/replicate-ops.js";
import { listKeyRotations, rotateKeyOnDemand } from "./ops/rotation-ops.js";
import { signOperation, verifyOperation } from "./ops/signing-ops.js";
import { listResourceTags, tagResource, untagResource } from "./ops/tag-ops.js";

/**
 * Every operation the emulator answers, by its `X-Amz-Target` name (`TrentService.<name>`): the table of
 * contents of the emulator. `mutating` operations save the state file and can "fail after commit";
 * `quota` is the request-quota bucket taken before the operation runs. Cryptographic operations take their
 * bucket themselves once they know the key's type (quotas.ts).
 */
export interface Operation {
  handler: OperationHandler;
  mutating: boolean;
  quota: "own" | "by-key-type";
}

const management = (handler: OperationHandler, mutating: boolean): Operation => ({
  handler,
  mutating,
  quota: "own",
});
const cryptographic = (handler: OperationHandler): Operation => ({
  handler,
  mutating: false,
  quota: "by-key-type",
});

export const OPERATIONS: Readonly<Record<string, Operation>> = {
  CreateKey: management(createKey, true),
  DescribeKey: management(describeKey, false),
  ListKeys: management(listKeys, false),
  ReplicateKey: management(replicateKey, true),
  EnableKey: management(enableKey, true),
  DisableKey: management(disableKey, true),
  ScheduleKeyDeletion: management(scheduleKeyDeletion, true),
  CancelKeyDeletion: management(cancelKeyDeletion, true),
  GetParametersForImport: management(getParametersForImport, true),
  ImportKeyMaterial: management(importKeyMaterial, true),
  DeleteImportedKeyMaterial: management(deleteImportedKeyMaterial, true),
  RotateKeyOnDemand: management(rotateKeyOnDemand, true),
  ListKeyRotations: management(listKeyRotations, false),
  CreateAlias: management(createAlias, true),
  UpdateAlias: management(updateAlias, true),
  DeleteAlias: management(deleteAlias, true),
  ListAliases: management(listAliases, false),
  TagResource: management(tagResource, true),
  UntagResource: management(untagResource, true),
  ListResourceTags: management(listResourceTags, false),
  GetPublicKey: management(getPublicKey, false),
  Encrypt: cryptographic(encrypt),
  Decrypt: cryptographic(decrypt),
  Sign: cryptographic(signOperation),
  Verify: cryptographic(verifyOperation),
};
