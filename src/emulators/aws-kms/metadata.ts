import { epochSeconds, type OperationOutput } from "./context.js";
import { algorithmsFor } from "./key-specs.js";
import { currentMaterial, earliestValidTo, isSymmetric, permanentMaterials } from "./materials.js";
import { type KmsKey, type KmsState, keyArn } from "./state.js";

/**
 * KeyMetadata as CreateKey and DescribeKey return it, with the members the SDK's KeyMetadata model has
 * and the presence rules of its reference: DeletionDate only while PendingDeletion, ExpirationModel only for
 * EXTERNAL keys (once material was imported), ValidTo only when some material expires, the algorithm list
 * matching the key usage, CurrentKeyMaterialId for symmetric keys.
 */
export function keyMetadata(key: KmsKey, state: KmsState): OperationOutput {
  const metadata: OperationOutput = {
    AWSAccountId: key.accountId,
    KeyId: key.id,
    Arn: keyArn(key),
    CreationDate: epochSeconds(key.createdAt),
    Enabled: key.state === "Enabled",
    Description: key.description,
    KeyUsage: key.keyUsage,
    KeyState: key.state,
    Origin: key.origin,
    KeyManager: "CUSTOMER",
    CustomerMasterKeySpec: key.keySpec,
    KeySpec: key.keySpec,
    ...algorithmsFor(key.keySpec, key.keyUsage),
    MultiRegion: key.multiRegion !== undefined,
  };
  if (key.multiRegion !== undefined) metadata.MultiRegionConfiguration = multiRegionConfiguration(key, state);
  if (key.state === "PendingDeletion" && key.deletionDate !== undefined) {
    metadata.DeletionDate = epochSeconds(key.deletionDate);
  }
  if (key.origin === "EXTERNAL") {
    const validTo = earliestValidTo(key);
    if (validTo !== undefined) {
      metadata.ValidTo = epochSeconds(validTo);
      metadata.ExpirationModel = "KEY_MATERIAL_EXPIRES";
    } else if (permanentMaterials(key).some((record) => record.expirationModel !== undefined)) {
      metadata.ExpirationModel = "KEY_MATERIAL_DOES_NOT_EXPIRE";
    }
  }
  const current = currentMaterial(key);
  if (isSymmetric(key) && current) metadata.CurrentKeyMaterialId = current.id;
  return metadata;
}

/**
 * Which key of the set is the primary and where the replicas are; the same in every region, as DescribeKey
 * of a primary or a replica reports it (MultiRegionConfiguration in the KeyMetadata reference).
 */
function multiRegionConfiguration(key: KmsKey, state: KmsState): OperationOutput {
  const family = [key, ...state.relatedKeys(key)];
  const entry = (member: KmsKey) => ({ Arn: keyArn(member), Region: member.region });
  const primary = family.find((member) => member.multiRegion === "PRIMARY");
  return {
    MultiRegionKeyType: key.multiRegion,
    ...(primary ? { PrimaryKey: entry(primary) } : {}),
    ReplicaKeys: family
      .filter((member) => member.multiRegion === "REPLICA")
      .sort((a, b) => (a.region < b.region ? -1 : a.region > b.region ? 1 : 0))
      .map(entry),
  };
}
