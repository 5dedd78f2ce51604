import type { OperationContext } from "./context.js";
import { disabled, invalidState, notFound } from "./errors.js";
import { aliasArn, type KeyState, type KmsKey, keyArn } from "./state.js";

/**
 * Finding the key a request names, and refusing keys in the wrong state, with the real service's answers.
 *
 * Which identifiers an operation takes follows its API reference: cryptographic operations, DescribeKey and
 * GetPublicKey take a key id, key ARN, alias name or alias ARN; management operations (EnableKey,
 * ImportKeyMaterial, TagResource, ...) take only a key id or key ARN.
 */

/** A UUID, or `mrk-` and 32 hex digits for multi-Region keys. */
const KEY_ID = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$/i;
const KEY_ARN = /^arn:aws[a-z-]*:kms:([a-z0-9-]+):(\d{12}):key\/(.+)$/;
const ALIAS_ARN = /^arn:aws[a-z-]*:kms:([a-z0-9-]+):(\d{12}):(alias\/.+)$/;

export interface LookupOptions {
  /** Whether alias names and alias ARNs identify the key in this operation. */
  aliases: boolean;
}

export function findKey(context: OperationContext, keyId: string, options: LookupOptions): KmsKey {
  const { state, region, accountId } = context;
  const arn = KEY_ARN.exec(keyId);
  if (arn) {
    if (arn[1] !== region || arn[2] !== accountId) throw notFound(`Invalid arn ${arn[1]}`);
    return keyById(context, arn[3] ?? "");
  }
  const aliasName = aliasNameOf(context, keyId);
  if (aliasName !== undefined) {
    if (!options.aliases) throw notFound(`Invalid keyId '${keyId}'`);
    const alias = state.findAlias(region, aliasName);
    const key = alias && state.getKey(region, alias.targetKeyId);
    if (!key) throw notFound(`Alias ${aliasArn(region, accountId, aliasName)} is not found.`);
    context.noteKey(key.id);
    return key;
  }
  return keyById(context, keyId);
}

/** A key named only by its id (as symmetric ciphertexts name theirs). */
export function keyById(context: OperationContext, id: string): KmsKey {
  if (!KEY_ID.test(id)) throw notFound(`Invalid keyId '${id}'`);
  const key = context.state.getKey(context.region, id.toLowerCase());
  if (!key) {
    throw notFound(
      `Key '${keyArn({ region: context.region, accountId: context.accountId, id })}' does not exist`,
    );
  }
  context.noteKey(key.id);
  return key;
}

function aliasNameOf(context: OperationContext, keyId: string): string | undefined {
  if (keyId.startsWith("alias/")) return keyId;
  const arn = ALIAS_ARN.exec(keyId);
  if (!arn) return undefined;
  if (arn[1] !== context.region || arn[2] !== context.accountId) throw notFound(`Invalid arn ${arn[1]}`);
  return arn[3];
}

/** How the service words a key in a state that does not allow the operation. */
export function stateMessage(key: KmsKey): string {
  const arn = keyArn(key);
  switch (key.state) {
    case "PendingImport":
      return `${arn} is pending import.`;
    case "PendingDeletion":
      return `${arn} is pending deletion.`;
    case "PendingReplicaDeletion":
      return `${arn} is pending replica deletion.`;
    case "Disabled":
      return `${arn} is disabled.`;
    case "Enabled":
      return `${arn} is enabled.`;
  }
}

/** Refuse unless the key is in one of `allowed` (KMSInvalidStateException). */
export function requireState(key: KmsKey, allowed: readonly KeyState[]): void {
  if (!allowed.includes(key.state)) throw invalidState(stateMessage(key));
}

/**
 * Cryptographic operations: a disabled key answers DisabledException, a key pending import or deletion
 * KMSInvalidStateException ("Key states of KMS keys", developer guide).
 */
export function requireUsable(key: KmsKey): void {
  if (key.state === "Disabled") throw disabled(stateMessage(key));
  requireState(key, ["Enabled"]);
}
