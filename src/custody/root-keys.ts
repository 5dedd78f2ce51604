import type { Config } from "../config.js";
import { parseRootKey, type RootKey, readRootKeyFile } from "../crypto/root-key.js";

export interface RootKeyRing {
  /** Seals everything new. */
  current: RootKey;
  /** Every key that may unseal: the current one first, then those still being re-sealed away from. */
  all: readonly RootKey[];
}

/** The root keys named by the configuration. Their bytes stay in this object, which is passed where needed. */
export async function loadRootKeyRing(
  config: Pick<Config, "rootKey" | "previousRootKeys">,
): Promise<RootKeyRing> {
  const current =
    "base64" in config.rootKey
      ? parseRootKey(config.rootKey.base64)
      : await readRootKeyFile(config.rootKey.file);
  const previous = config.previousRootKeys.map((b64, i) =>
    parseRootKey(b64, `KEYFERRY_PREVIOUS_ROOT_KEYS[${i}]`),
  );
  const all = [current, ...previous.filter((p) => p.id !== current.id)];
  return { current, all };
}
