import { describe, expect, it } from "vitest";
import { KEY_TYPE_INFO, KEY_TYPES, type KeyType } from "../../../src/crypto/key-types.js";
import { InvalidInputError } from "../../../src/errors/invalid-input-error.js";
import { createLogger } from "../../../src/logger.js";
import { createAwsKmsProvider } from "../../../src/providers/aws-kms/index.js";
import { checkSupport, keyUsageOf } from "../../../src/providers/aws-kms/support.js";
import type { KeyToDistribute, KmsDestination, Purpose } from "../../../src/providers/kms-provider.js";
import { refusal } from "../../helpers/crypto-fixtures.js";
import { memoryJournal } from "../../helpers/step-journal.js";
import { versionSource } from "./helpers.js";

/**
 * What AWS KMS can hold (SPEC section 2), for every key type and every non-empty set of purposes, against
 * the rules written out independently here: RSA keys have one key usage, EC keys only sign, AES keys only
 * encrypt. Refusals are 422 InvalidInputErrors that name the rule, raised before any remote call.
 */

const PURPOSES: Purpose[] = ["encrypt", "decrypt", "sign", "verify", "wrap", "unwrap"];
const SIGNING: Purpose[] = ["sign", "verify"];

const destination: KmsDestination = {
  name: "aws",
  provider: "awskms",
  keyCollection: "eu-west-1",
  credentials: undefined,
  // Nothing listens there: a call that reached the network would fail differently.
  options: { endpoint: "http://127.0.0.1:9" },
  revision: 1,
};

function purposeSets(): Purpose[][] {
  const sets: Purpose[][] = [];
  for (let mask = 1; mask < 1 << PURPOSES.length; mask++)
    sets.push(PURPOSES.filter((_, bit) => mask & (1 << bit)));
  return sets;
}

function accepted(type: KeyType, purposes: Purpose[]): boolean {
  const signs = purposes.some((purpose) => SIGNING.includes(purpose));
  const encrypts = purposes.some((purpose) => !SIGNING.includes(purpose));
  const family = KEY_TYPE_INFO[type].family;
  if (family === "aes") return !signs;
  if (family === "ec") return !encrypts;
  return !(signs && encrypts);
}

const keyOf = (type: KeyType, purposes: Purpose[], name = "payments"): KeyToDistribute => ({
  name,
  type,
  purposes,
  protection: "software",
});

describe("AWS KMS support: key types and purposes", () => {
  for (const type of KEY_TYPES) {
    it(`accepts and refuses ${type} for each of the 63 purpose sets as the rules say`, () => {
      for (const purposes of purposeSets()) {
        const key = keyOf(type, purposes);
        if (accepted(type, purposes)) {
          expect(() => checkSupport(destination, key), purposes.join(",")).not.toThrow();
          expect(keyUsageOf(key)).toBe(
            purposes.some((p) => SIGNING.includes(p)) ? "SIGN_VERIFY" : "ENCRYPT_DECRYPT",
          );
        } else {
          const error = refusal(() => checkSupport(destination, key));
          expect(error).toMatchObject({ code: "unsupported_purposes", status: 422 });
          expect(error.message).toMatch(/AWS KMS: /);
        }
      }
    });
  }

  it("names the rule that was broken", () => {
    expect(refusal(() => checkSupport(destination, keyOf("rsa-2048", ["encrypt", "sign"]))).message).toMatch(
      /one key usage/,
    );
    expect(refusal(() => checkSupport(destination, keyOf("ecdsa-p384", ["wrap"]))).message).toMatch(
      /only sign and verify/,
    );
    expect(refusal(() => checkSupport(destination, keyOf("aes256-gcm96", ["verify"]))).message).toMatch(
      /only encrypt, decrypt, wrap and unwrap/,
    );
    expect(refusal(() => checkSupport(destination, keyOf("aes256-gcm96", []))).code).toBe(
      "unsupported_purposes",
    );
  });

  it("refuses remote names AWS would refuse, and deletion windows outside 7..30 days", () => {
    const aes = keyOf("aes256-gcm96", ["encrypt"]);
    expect(refusal(() => checkSupport({ ...destination, options: { namePrefix: "aws" } }, aes)).code).toBe(
      "unsupported_remote_name",
    );
    expect(
      refusal(() => checkSupport(destination, keyOf("aes256-gcm96", ["encrypt"], "pay.ments"))).code,
    ).toBe("unsupported_remote_name");
    expect(refusal(() => checkSupport({ ...destination, options: { pendingWindowDays: 6 } }, aes)).code).toBe(
      "invalid_pending_window",
    );
    expect(refusal(() => checkSupport({ ...destination, keyCollection: "Europe" }, aes)).code).toBe(
      "invalid_region",
    );
    expect(refusal(() => checkSupport({ ...destination, provider: "azurekeyvault" }, aes)).code).toBe(
      "wrong_provider",
    );
  });

  it("refuses in distribute before any remote call", async () => {
    const provider = createAwsKmsProvider({ logger: createLogger({ level: "silent" }) });
    const logger = createLogger({ level: "silent" });
    const ctx = { operationId: "op", journal: memoryJournal(), logger };
    const version = versionSource(1, Buffer.alloc(32, 1), undefined);
    const attempt = provider.distribute(ctx, destination, keyOf("aes256-gcm96", ["sign"]), [version]);
    await expect(attempt).rejects.toBeInstanceOf(InvalidInputError);
    await expect(attempt).rejects.toMatchObject({ code: "unsupported_purposes" });
    provider.close();
  });
});
