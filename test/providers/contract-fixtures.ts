import { generateKeyMaterial } from "../../src/crypto/generate.js";
import type { KeyType } from "../../src/crypto/key-types.js";
import { zero } from "../../src/crypto/zero.js";
import type { Provider } from "../../src/db/schema/index.js";
import type { KmsDestination, Purpose, VersionSource } from "../../src/providers/kms-provider.js";

/**
 * What each cloud accepts, written out from SPEC section 2 and the clouds' documentation independently of
 * the providers' own rules, so that the contract suite checks them rather than repeats them.
 */
const ENCRYPT_FAMILY: readonly Purpose[] = ["encrypt", "decrypt", "wrap", "unwrap"];
const SIGN_FAMILY: readonly Purpose[] = ["sign", "verify"];

export function cloudAccepts(
  cloud: Provider | "azurekeyvault-managed-hsm",
  type: KeyType,
  purposes: readonly Purpose[],
): boolean {
  const encrypts = purposes.some((p) => ENCRYPT_FAMILY.includes(p));
  const signs = purposes.some((p) => SIGN_FAMILY.includes(p));
  const family = type.startsWith("aes") ? "aes" : type.startsWith("rsa") ? "rsa" : "ec";
  if (family === "ec") return !encrypts;
  if (family === "aes") return !signs && cloud !== "azurekeyvault";
  // RSA: AWS gives a key one usage; Azure allows any set of operations on one key.
  return cloud === "awskms" ? !(encrypts && signs) : true;
}

export const PURPOSE_SETS: readonly (readonly Purpose[])[] = [
  ["encrypt", "decrypt"],
  ["wrap", "unwrap"],
  ["encrypt"],
  ["sign", "verify"],
  ["verify"],
  ["encrypt", "sign"],
  ["decrypt", "verify"],
  ["encrypt", "decrypt", "sign", "verify", "wrap", "unwrap"],
];

/** The purposes a lifecycle test uses for a key type: the natural ones. */
export function naturalPurposes(type: KeyType): Purpose[] {
  return type.startsWith("ecdsa") ? ["sign", "verify"] : ["encrypt", "decrypt"];
}

/** Versions of real generated material, handed out as a VersionSource would be by the custody layer. */
export async function makeVersions(type: KeyType, count: number): Promise<VersionSource[]> {
  const generated = await Promise.all(Array.from({ length: count }, () => generateKeyMaterial(type)));
  return generated.map(({ material, publicKey }, i) => ({
    version: i + 1,
    publicKey: publicKey ?? null,
    async withMaterial<T>(use: (m: Buffer) => Promise<T>): Promise<T> {
      const copy = Buffer.from(material);
      try {
        return await use(copy);
      } finally {
        zero(copy);
      }
    },
  }));
}

export function destination(
  provider: Provider,
  name: string,
  url: string,
  options: KmsDestination["options"] = {},
): KmsDestination {
  return provider === "awskms"
    ? {
        name,
        provider,
        keyCollection: "eu-west-1",
        credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "emulator" },
        options: { endpoint: url, pendingWindowDays: 7, ...options },
        revision: 1,
      }
    : { name, provider, keyCollection: url, credentials: undefined, options, revision: 1 };
}
