import { describe, expect, it } from "vitest";
import { KEY_TYPES, type KeyType } from "../../../src/crypto/key-types.js";
import { InvalidInputError } from "../../../src/errors/invalid-input-error.js";
import { resolveVaultEndpoint } from "../../../src/providers/azure-key-vault/clients.js";
import { createAzureKeyVaultProvider } from "../../../src/providers/azure-key-vault/index.js";
import { kekName, remoteKeyName } from "../../../src/providers/azure-key-vault/names.js";
import { azureKeyShape } from "../../../src/providers/azure-key-vault/support.js";
import type {
  KeyToDistribute,
  KmsDestination,
  Protection,
  Purpose,
} from "../../../src/providers/kms-provider.js";
import { isLoopback } from "../../../src/providers/loopback.js";
import { refusal } from "../../helpers/crypto-fixtures.js";

/** What Azure accepts (SPEC section 2), remote names, and where a destination's vault is. */

const PURPOSES: readonly Purpose[] = ["encrypt", "decrypt", "sign", "verify", "wrap", "unwrap"];
/** Every non-empty subset of the six purposes. */
const PURPOSE_SETS: Purpose[][] = Array.from({ length: 63 }, (_, mask) =>
  PURPOSES.filter((_p, bit) => ((mask + 1) >> bit) & 1),
);

function destination(options: KmsDestination["options"] = {}, keyCollection = "myvault"): KmsDestination {
  return {
    name: "az",
    provider: "azurekeyvault",
    keyCollection,
    credentials: undefined,
    options,
    revision: 1,
  };
}

/** Written from the Key Vault documentation, independently of support.ts: the reason, or null if accepted. */
function expectedRefusal(managedHsm: boolean, type: KeyType, purposes: Purpose[], protection: Protection) {
  const signs = purposes.some((p) => p === "sign" || p === "verify");
  const encrypts = purposes.some((p) => !["sign", "verify"].includes(p));
  if (managedHsm && protection === "software") return "unsupported_protection";
  if (type.startsWith("aes")) {
    if (!managedHsm) return "unsupported_key_type";
    if (protection === "software") return "unsupported_protection";
    return signs ? "unsupported_purposes" : null;
  }
  if (type.startsWith("ecdsa")) return encrypts ? "unsupported_purposes" : null;
  return null;
}

describe("Azure Key Vault: what it accepts", () => {
  const provider = createAzureKeyVaultProvider();

  it("accepts or refuses every key type × purpose set × protection, in a vault and a Managed HSM", () => {
    let accepted = 0;
    let refused = 0;
    for (const managedHsm of [false, true]) {
      for (const type of KEY_TYPES) {
        for (const protection of ["hsm", "software"] as const) {
          for (const purposes of PURPOSE_SETS) {
            const key: KeyToDistribute = { name: "k", type, purposes, protection };
            const dest = destination(managedHsm ? { managedHsm } : {});
            const reason = expectedRefusal(managedHsm, type, purposes, protection);
            const label = `${managedHsm ? "mhsm" : "vault"} ${type} ${protection} ${purposes.join(",")}`;
            if (reason === null) {
              expect(() => provider.checkSupport(dest, key), label).not.toThrow();
              accepted++;
            } else {
              const error = refusal(() => provider.checkSupport(dest, key));
              expect({ label, code: error.code, status: error.status }).toEqual({
                label,
                code: reason,
                status: 422,
              });
              expect(error.message).toMatch(/Azure Key Vault cannot hold this combination: .+/);
              refused++;
            }
          }
        }
      }
    }
    expect(accepted).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
  });

  it("names the rule in the message", () => {
    const ec = refusal(() =>
      provider.checkSupport(destination(), {
        name: "k",
        type: "ecdsa-p256",
        purposes: ["encrypt"],
        protection: "hsm",
      }),
    );
    expect(ec.message).toMatch(/EC keys in Azure can only sign and verify \(asked for encrypt\)/);
    const aes = refusal(() =>
      provider.checkSupport(destination(), {
        name: "k",
        type: "aes256-gcm96",
        purposes: ["encrypt"],
        protection: "hsm",
      }),
    );
    expect(aes.message).toMatch(/Managed HSM/);
  });

  it("maps purposes to key_ops and protection to the HSM or software key type", () => {
    const rsa = azureKeyShape(destination(), {
      name: "k",
      type: "rsa-3072",
      purposes: ["wrap", "unwrap", "sign", "wrap"],
      protection: "software",
    });
    expect(rsa).toEqual({ kty: "RSA", crv: undefined, keyOps: ["wrapKey", "unwrapKey", "sign"], hsm: false });
    const ec = azureKeyShape(destination(), {
      name: "k",
      type: "ecdsa-p521",
      purposes: ["verify"],
      protection: "hsm",
    });
    expect(ec).toEqual({ kty: "EC-HSM", crv: "P-521", keyOps: ["verify"], hsm: true });
    const aes = azureKeyShape(destination({ managedHsm: true }), {
      name: "k",
      type: "aes256-gcm96",
      purposes: ["encrypt", "decrypt"],
      protection: "hsm",
    });
    expect(aes).toEqual({ kty: "oct-HSM", crv: undefined, keyOps: ["encrypt", "decrypt"], hsm: true });
  });

  it("refuses an empty purpose list", () => {
    const error = refusal(() =>
      provider.checkSupport(destination(), { name: "k", type: "rsa-2048", purposes: [], protection: "hsm" }),
    );
    expect(error.code).toBe("unsupported_purposes");
  });
});

describe("Azure Key Vault: remote names", () => {
  it("uses <namePrefix>-<key>, or the key name, when Azure can hold it as it is", () => {
    expect(remoteKeyName("payments-2024", {})).toBe("payments-2024");
    expect(remoteKeyName("payments", { namePrefix: "kf" })).toBe("kf-payments");
  });

  it("encodes other characters deterministically, keeping names that differ apart", () => {
    const dotted = remoteKeyName("team.payments", {});
    expect(dotted).toMatch(/^team-payments-x[0-9a-f]{10}$/);
    expect(remoteKeyName("team.payments", {})).toBe(dotted);
    expect(remoteKeyName("team_payments", {})).not.toBe(dotted);
    expect(remoteKeyName("team/payments", { namePrefix: "a.b" })).toMatch(
      /^a-b-team-payments-x[0-9a-f]{10}$/,
    );
  });

  it("refuses a name longer than Azure's 127 characters", () => {
    expect(remoteKeyName("k".repeat(127), {})).toHaveLength(127);
    const error = refusal(() => remoteKeyName("k".repeat(128), {}));
    expect(error.code).toBe("unsupported_key_name");
    expect(error.message).toMatch(/at most 127/);
    const provider = createAzureKeyVaultProvider();
    const key: KeyToDistribute = {
      name: "k".repeat(120),
      type: "rsa-2048",
      purposes: ["sign"],
      protection: "hsm",
    };
    expect(() => provider.checkSupport(destination({ namePrefix: "team-payments" }), key)).toThrow(
      InvalidInputError,
    );
  });

  it("derives the KEK's name from the operation id alone", () => {
    expect(kekName("0b9c2f6e-5d1a-4f0e-9a57-0c8f2f9b1e11")).toBe(
      "kf-kek-0b9c2f6e-5d1a-4f0e-9a57-0c8f2f9b1e11",
    );
    expect(kekName("op:42")).toMatch(/^kf-kek-op-42-x[0-9a-f]{10}$/);
  });
});

describe("Azure Key Vault: vault URLs", () => {
  it("turns a vault name into a public-cloud URL, or a Managed HSM URL", () => {
    expect(resolveVaultEndpoint(destination({}, "my-vault"))).toEqual({
      url: "https://my-vault.vault.azure.net",
      local: false,
    });
    expect(resolveVaultEndpoint(destination({ managedHsm: true }, "myhsm")).url).toBe(
      "https://myhsm.managedhsm.azure.net",
    );
  });

  it("takes a full https URL as it is (sovereign clouds)", () => {
    expect(resolveVaultEndpoint(destination({}, "https://gov.vault.usgovcloudapi.net/")).url).toBe(
      "https://gov.vault.usgovcloudapi.net",
    );
  });

  it("accepts plain http only for loopback hosts", () => {
    expect(resolveVaultEndpoint(destination({}, "http://127.0.0.1:8443"))).toEqual({
      url: "http://127.0.0.1:8443",
      local: true,
    });
    expect(resolveVaultEndpoint(destination({}, "http://localhost:1")).local).toBe(true);
    expect(resolveVaultEndpoint(destination({}, "http://[::1]:1")).local).toBe(true);
    for (const bad of ["http://vault.example.com", "http://10.0.0.1:80", "ftp://127.0.0.1"]) {
      expect(refusal(() => resolveVaultEndpoint(destination({}, bad))).code).toBe("invalid_key_collection");
    }
  });

  it("refuses what is neither a vault name nor a vault's base URL", () => {
    for (const bad of [
      "-vault",
      "a",
      "my_vault",
      "https://v.vault.azure.net/keys/x",
      "https://u:p@v.vault.azure.net",
    ]) {
      expect(refusal(() => resolveVaultEndpoint(destination({}, bad))).code, bad).toBe(
        "invalid_key_collection",
      );
    }
  });

  it("knows loopback hosts", () => {
    expect(["localhost", "127.0.0.1", "127.8.9.10", "[::1]"].map(isLoopback)).toEqual([
      true,
      true,
      true,
      true,
    ]);
    expect(["10.0.0.1", "vault.azure.net", "128.0.0.1"].map(isLoopback)).toEqual([false, false, false]);
  });
});
