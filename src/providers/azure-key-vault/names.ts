import { createHash } from "node:crypto";
import { InvalidInputError } from "../../errors/invalid-input-error.js";
import type { KmsOptions } from "../kms-provider.js";

/**
 * Key Vault object names are 1..127 characters of `[0-9a-zA-Z-]`, compared case-insensitively.
 *
 * A keyferry name made only of those characters is used as it is, so that operators recognise their keys in
 * the portal. Any other name is encoded deterministically: each other character becomes `-`, and `-x` plus
 * 10 hex digits of the SHA-256 of the original name are appended, so that `a.b` and `a_b` (both `a-b...`)
 * stay apart and a retry always arrives at the same name. A result longer than 127 characters is refused.
 * Names that differ only in case meet in the same Azure key; distribute notices that by the keyferry-key
 * tag of the versions it finds and refuses to write into a key that belongs to another keyferry key.
 */
const AZURE_NAME = /^[0-9a-zA-Z-]{1,127}$/;
const AZURE_NAME_MAX = 127;
const HASH_HEX_DIGITS = 10;

/** `<namePrefix>-<key>`, or the key name, as an Azure key name. */
export function remoteKeyName(keyName: string, options: KmsOptions): string {
  const wanted = options.namePrefix ? `${options.namePrefix}-${keyName}` : keyName;
  return azureName(wanted, "key name");
}

/**
 * The key exchange key of one operation: derived from its id alone, so that a retried step finds the KEK an
 * interrupted attempt created instead of making another.
 */
export function kekName(operationId: string): string {
  return azureName(`kf-kek-${operationId}`, "operation id");
}

export function azureName(wanted: string, what: string): string {
  const name = AZURE_NAME.test(wanted) ? wanted : encode(wanted);
  if (name.length > AZURE_NAME_MAX) {
    throw new InvalidInputError(
      "unsupported_key_name",
      `Azure Key Vault names are at most ${AZURE_NAME_MAX} letters, digits and dashes; the ${what} ` +
        `"${wanted}" becomes ${name.length} characters`,
      { field: "name" },
    );
  }
  return name;
}

function encode(wanted: string): string {
  const digest = createHash("sha256").update(wanted, "utf8").digest("hex").slice(0, HASH_HEX_DIGITS);
  return `${wanted.replace(/[^0-9a-zA-Z-]/g, "-")}-x${digest}`;
}
