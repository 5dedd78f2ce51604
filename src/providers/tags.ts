/**
 * The tags keyferry puts on every remote object it creates (SPEC section 4), shared by the providers: a
 * retried step finds what an interrupted attempt created by them, and drift detection lists keyferry's
 * copies by them. Values are names and numbers only, never secrets. Both clouds accept these names
 * (AWS: 1..128 characters, no `aws:` prefix; Azure Key Vault: free-form names).
 *
 * `keyferry:kms` (beyond SPEC's key, version and operation) names the destination: two destinations may
 * share one AWS account and region or one vault (different name prefixes), and one operation (a rotation
 * fanned out) may act on both, so key, version and operation alone could match the other one's object.
 */

export const TAG_KEY = "keyferry:key";
export const TAG_VERSION = "keyferry:version";
export const TAG_OPERATION = "keyferry:operation";
export const TAG_KMS = "keyferry:kms";

export interface KeyferryTags {
  keyName: string;
  version: number;
  operationId: string | undefined;
  /** The destination's name. */
  kms?: string | undefined;
}

export function keyferryTags(tags: KeyferryTags): Record<string, string> {
  return {
    [TAG_KEY]: tags.keyName,
    [TAG_VERSION]: String(tags.version),
    ...(tags.operationId === undefined ? {} : { [TAG_OPERATION]: tags.operationId }),
    ...(tags.kms === undefined ? {} : { [TAG_KMS]: tags.kms }),
  };
}

/** The keyferry tags of a remote object, or undefined when it is not keyferry's (or its tags are damaged). */
export function parseKeyferryTags(
  tags: Readonly<Record<string, string | undefined>>,
): KeyferryTags | undefined {
  const keyName = tags[TAG_KEY];
  const version = Number(tags[TAG_VERSION]);
  if (!keyName || !Number.isSafeInteger(version) || version < 1) return undefined;
  const kms = tags[TAG_KMS];
  return { keyName, version, operationId: tags[TAG_OPERATION] || undefined, ...(kms ? { kms } : {}) };
}

/** Whether `tags` name exactly this key, version and (each when given) operation and destination. */
export function tagsMatch(
  tags: Readonly<Record<string, string | undefined>>,
  wanted: { keyName: string; version: number; operationId?: string | undefined; kms?: string | undefined },
): boolean {
  const parsed = parseKeyferryTags(tags);
  return (
    parsed !== undefined &&
    parsed.keyName === wanted.keyName &&
    parsed.version === wanted.version &&
    (wanted.operationId === undefined || parsed.operationId === wanted.operationId) &&
    (wanted.kms === undefined || parsed.kms === wanted.kms)
  );
}
