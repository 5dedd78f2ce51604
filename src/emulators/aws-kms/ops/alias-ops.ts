import { z } from "zod";
import { epochSeconds, type OperationContext, type OperationOutput } from "../context.js";
import { alreadyExists, limitExceeded, notAuthorized, notFound, validation } from "../errors.js";
import { findKey, requireState } from "../key-lookup.js";
import { isSymmetric } from "../materials.js";
import { page } from "../paging.js";
import { type Alias, aliasArn, type KmsKey } from "../state.js";
import { keyIdMember, parseInput } from "../validation.js";

/**
 * CreateAlias, UpdateAlias, DeleteAlias, ListAliases. Names must start with `alias/` (ValidationException,
 * in the service's own words) and may not start with `alias/aws/`, which is reserved for AWS managed keys
 * (NotAuthorizedException). An alias names exactly one key; at most 50 aliases per key (resource quota).
 */

const ALIAS_PREFIX = "alias/";
const RESERVED_PREFIX = "alias/aws/";
const ALIAS_CHARACTERS = /^alias\/[a-zA-Z0-9/_-]+$/;
const MAX_ALIASES_PER_KEY = 50;

const aliasNameMember = z.string().min(1).max(256);

function checkAliasName(context: OperationContext, name: string): void {
  if (!name.startsWith(ALIAS_PREFIX)) {
    throw validation(
      'Alias must start with the prefix "alias/". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html',
    );
  }
  if (name.startsWith(RESERVED_PREFIX)) {
    throw notAuthorized(
      `${aliasArn(context.region, context.accountId, name)} is reserved for AWS managed keys`,
    );
  }
  if (!ALIAS_CHARACTERS.test(name)) {
    throw validation(
      `1 validation error detected: Value '${name}' at 'aliasName' failed to satisfy constraint: ` +
        "Member must satisfy regular expression pattern: ^alias/[a-zA-Z0-9/_-]+$",
    );
  }
}

/** The key an alias is to point at: named by key id or key ARN only, and not on its way out. */
function targetKey(context: OperationContext, targetKeyId: string): KmsKey {
  if (targetKeyId.startsWith(ALIAS_PREFIX) || /:alias\//.test(targetKeyId)) {
    throw validation("Aliases must refer to keys. Not aliases");
  }
  const key = findKey(context, targetKeyId, { aliases: false });
  requireState(key, ["Enabled", "Disabled", "PendingImport"]);
  return key;
}

function existingAlias(context: OperationContext, name: string): Alias {
  const alias = context.state.findAlias(context.region, name);
  if (!alias) throw notFound(`Alias ${aliasArn(context.region, context.accountId, name)} is not found.`);
  return alias;
}

const AliasTargetInput = z.object({ AliasName: aliasNameMember, TargetKeyId: keyIdMember });

export function createAlias(input: unknown, context: OperationContext): OperationOutput {
  const request = parseInput(AliasTargetInput, input);
  checkAliasName(context, request.AliasName);
  const key = targetKey(context, request.TargetKeyId);
  if (context.state.findAlias(context.region, request.AliasName)) {
    throw alreadyExists(
      `An alias with the name ${aliasArn(context.region, context.accountId, request.AliasName)} already exists`,
    );
  }
  if (context.state.aliasesOf(key).length >= MAX_ALIASES_PER_KEY) {
    throw limitExceeded(`A KMS key can have at most ${MAX_ALIASES_PER_KEY} aliases`);
  }
  context.state.putAlias({
    name: request.AliasName,
    region: context.region,
    targetKeyId: key.id,
    createdAt: context.now,
    updatedAt: context.now,
  });
  return {};
}

/**
 * The new key must be of the same type (symmetric or asymmetric) and key usage as the current one
 * (UpdateAlias reference), so that an application following the alias keeps working.
 */
export function updateAlias(input: unknown, context: OperationContext): OperationOutput {
  const request = parseInput(AliasTargetInput, input);
  checkAliasName(context, request.AliasName);
  const alias = existingAlias(context, request.AliasName);
  const key = targetKey(context, request.TargetKeyId);
  const current = context.state.getKey(alias.region, alias.targetKeyId);
  if (current && (isSymmetric(current) !== isSymmetric(key) || current.keyUsage !== key.keyUsage)) {
    throw validation(
      `${alias.name} points to a ${describeType(current)} key; the new target key must be of the same type and key usage`,
    );
  }
  alias.targetKeyId = key.id;
  alias.updatedAt = context.now;
  return {};
}

function describeType(key: KmsKey): string {
  return `${isSymmetric(key) ? "symmetric" : "asymmetric"} ${key.keyUsage}`;
}

const DeleteAliasInput = z.object({ AliasName: aliasNameMember });

export function deleteAlias(input: unknown, context: OperationContext): OperationOutput {
  const request = parseInput(DeleteAliasInput, input);
  checkAliasName(context, request.AliasName);
  context.state.deleteAlias(existingAlias(context, request.AliasName));
  return {};
}

const ListAliasesInput = z.object({
  KeyId: keyIdMember.optional(),
  Limit: z.number().int().min(1).max(100).optional(),
  Marker: z.string().min(1).max(1024).optional(),
});

export function listAliases(input: unknown, context: OperationContext): OperationOutput {
  const request = parseInput(ListAliasesInput, input);
  const key = request.KeyId === undefined ? undefined : findKey(context, request.KeyId, { aliases: false });
  const aliases = context.state
    .aliasesIn(context.region)
    .filter((alias) => key === undefined || alias.targetKeyId === key.id)
    .map((alias) => ({
      AliasName: alias.name,
      AliasArn: aliasArn(alias.region, context.accountId, alias.name),
      TargetKeyId: alias.targetKeyId,
      CreationDate: epochSeconds(alias.createdAt),
      LastUpdatedDate: epochSeconds(alias.updatedAt),
    }));
  const { items, ...paging } = page(aliases, request.Limit ?? 50, request.Marker);
  return { Aliases: items, ...paging };
}
