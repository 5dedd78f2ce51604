import { randomBytes } from "node:crypto";
import {
  CreateKeyCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GetParametersForImportCommand,
  type GetParametersForImportCommandOutput,
  ImportKeyMaterialCommand,
  type KMSClient,
} from "@aws-sdk/client-kms";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { wrapForAws } from "../../../src/crypto/wrap-aws.js";
import { startAwsKmsEmulator } from "../../../src/emulators/aws-kms/index.js";
import type { RunningEmulator } from "../../../src/emulators/common/options.js";
import { opensslGenerateMaterial, opensslOaepEncrypt } from "../../helpers/openssl.js";
import { expectKmsError, kmsClient } from "./helpers.js";

/** The import refusals of the real service, each seen through the SDK under its real exception name. */

const HOUR = 3600 * 1000;

describe("AWS KMS emulator: import refusals", () => {
  let emulator: RunningEmulator;
  let kms: KMSClient;
  let clock = Date.now();
  let keyA: string;
  let keyB: string;
  let parametersA: GetParametersForImportCommandOutput;
  let parametersB: GetParametersForImportCommandOutput;

  const wrapAes = (material: Uint8Array, parameters: GetParametersForImportCommandOutput) =>
    wrapForAws({
      material,
      keyType: "aes256-gcm96",
      wrappingKey: parameters.PublicKey ?? new Uint8Array(),
      algorithm: "RSAES_OAEP_SHA_256",
    });
  const createExternal = async (input: Partial<CreateKeyCommand["input"]> = {}) =>
    (await kms.send(new CreateKeyCommand({ Origin: "EXTERNAL", ...input }))).KeyMetadata?.KeyId ?? "";
  const parametersFor = (keyId: string, algorithm = "RSAES_OAEP_SHA_256", spec = "RSA_2048") =>
    kms.send(
      new GetParametersForImportCommand({
        KeyId: keyId,
        WrappingAlgorithm: algorithm as "RSAES_OAEP_SHA_256",
        WrappingKeySpec: spec as "RSA_2048",
      }),
    );

  beforeAll(async () => {
    emulator = await startAwsKmsEmulator({ now: () => clock });
    kms = kmsClient(emulator.url, { maxAttempts: 1 });
    [keyA, keyB] = await Promise.all([createExternal(), createExternal()]);
    [parametersA, parametersB] = await Promise.all([parametersFor(keyA), parametersFor(keyB)]);
  });
  afterAll(async () => {
    kms.destroy();
    await emulator.close();
  });

  it("refuses another key's import token and a token it never issued (InvalidImportTokenException)", async () => {
    const material = randomBytes(32);
    await expectKmsError(
      kms.send(
        new ImportKeyMaterialCommand({
          KeyId: keyA,
          ImportToken: parametersB.ImportToken,
          EncryptedKeyMaterial: wrapAes(material, parametersB),
          ExpirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE",
        }),
      ),
      "InvalidImportTokenException",
    );
    await expectKmsError(
      kms.send(
        new ImportKeyMaterialCommand({
          KeyId: keyA,
          ImportToken: randomBytes(49),
          EncryptedKeyMaterial: wrapAes(material, parametersA),
          ExpirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE",
        }),
      ),
      "InvalidImportTokenException",
    );
  });

  it("refuses material it cannot unwrap (InvalidCiphertextException)", async () => {
    // Wrapped under B's wrapping key but presented with A's token: the OAEP decryption fails.
    await expectKmsError(
      kms.send(
        new ImportKeyMaterialCommand({
          KeyId: keyA,
          ImportToken: parametersA.ImportToken,
          EncryptedKeyMaterial: wrapAes(randomBytes(32), parametersB),
          ExpirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE",
        }),
      ),
      "InvalidCiphertextException",
    );
  });

  it("refuses material of the wrong size or spec (IncorrectKeyMaterialException)", async () => {
    const short = await opensslOaepEncrypt(
      parametersA.PublicKey ?? new Uint8Array(),
      randomBytes(16),
      "sha256",
    );
    await expectKmsError(
      kms.send(
        new ImportKeyMaterialCommand({
          KeyId: keyA,
          ImportToken: parametersA.ImportToken,
          EncryptedKeyMaterial: short,
          ExpirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE",
        }),
      ),
      "IncorrectKeyMaterialException",
    );
    const p256 = await createExternal({ KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY" });
    const [parameters, p384Material] = await Promise.all([
      parametersFor(p256, "RSAES_OAEP_SHA_256", "RSA_3072"),
      opensslGenerateMaterial("ecdsa-p384"),
    ]);
    const wrapped = await opensslOaepEncrypt(
      parameters.PublicKey ?? new Uint8Array(),
      p384Material,
      "sha256",
    );
    await expectKmsError(
      kms.send(
        new ImportKeyMaterialCommand({
          KeyId: p256,
          ImportToken: parameters.ImportToken,
          EncryptedKeyMaterial: wrapped,
          ExpirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE",
        }),
      ),
      "IncorrectKeyMaterialException",
    );
  });

  it("needs ValidTo with KEY_MATERIAL_EXPIRES (the default) and refuses it otherwise (ValidationException)", async () => {
    const material = randomBytes(32);
    await expectKmsError(
      kms.send(
        new ImportKeyMaterialCommand({
          KeyId: keyA,
          ImportToken: parametersA.ImportToken,
          EncryptedKeyMaterial: wrapAes(material, parametersA),
        }),
      ),
      "ValidationException",
    );
    await expectKmsError(
      kms.send(
        new ImportKeyMaterialCommand({
          KeyId: keyA,
          ImportToken: parametersA.ImportToken,
          EncryptedKeyMaterial: wrapAes(material, parametersA),
          ExpirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE",
          ValidTo: new Date(clock + HOUR),
        }),
      ),
      "ValidationException",
    );
  });

  it("deletes expiring material when the clock passes ValidTo; the key waits for it again", async () => {
    const material = randomBytes(32);
    const validTo = new Date(clock + HOUR);
    await kms.send(
      new ImportKeyMaterialCommand({
        KeyId: keyA,
        ImportToken: parametersA.ImportToken,
        EncryptedKeyMaterial: wrapAes(material, parametersA),
        ExpirationModel: "KEY_MATERIAL_EXPIRES",
        ValidTo: validTo,
      }),
    );
    expect((await kms.send(new DescribeKeyCommand({ KeyId: keyA }))).KeyMetadata).toMatchObject({
      KeyState: "Enabled",
      ExpirationModel: "KEY_MATERIAL_EXPIRES",
      ValidTo: validTo,
    });
    clock += HOUR + 1000;
    expect((await kms.send(new DescribeKeyCommand({ KeyId: keyA }))).KeyMetadata?.KeyState).toBe(
      "PendingImport",
    );
    await expectKmsError(
      kms.send(new EncryptCommand({ KeyId: keyA, Plaintext: Buffer.from("x") })),
      "KMSInvalidStateException",
    );
    await kms.send(
      new ImportKeyMaterialCommand({
        KeyId: keyA,
        ImportToken: parametersA.ImportToken,
        EncryptedKeyMaterial: wrapAes(material, parametersA),
        ExpirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE",
      }),
    );
    expect((await kms.send(new DescribeKeyCommand({ KeyId: keyA }))).KeyMetadata).toMatchObject({
      KeyState: "Enabled",
      ExpirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE",
    });
  });

  it("refuses an import token 24 hours and 1 second old (ExpiredImportTokenException)", async () => {
    const parameters = await parametersFor(keyB);
    clock += 24 * HOUR + 1000;
    await expectKmsError(
      kms.send(
        new ImportKeyMaterialCommand({
          KeyId: keyB,
          ImportToken: parameters.ImportToken,
          EncryptedKeyMaterial: wrapAes(randomBytes(32), parameters),
          ExpirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE",
        }),
      ),
      "ExpiredImportTokenException",
    );
    const fresh = await parametersFor(keyB);
    await kms.send(
      new ImportKeyMaterialCommand({
        KeyId: keyB,
        ImportToken: fresh.ImportToken,
        EncryptedKeyMaterial: wrapAes(randomBytes(32), fresh),
        ExpirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE",
      }),
    );
  });

  it("refuses wrapping parameters the real service does not offer (UnsupportedOperationException)", async () => {
    const symmetric = await createExternal();
    const p521 = await createExternal({ KeySpec: "ECC_NIST_P521", KeyUsage: "SIGN_VERIFY" });
    const generated = (await kms.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId ?? "";
    const refusals: Array<[string, string, string, RegExp]> = [
      [symmetric, "RSAES_PKCS1_V1_5", "RSA_2048", /2023-10-10/],
      [symmetric, "SM2PKE", "SM2", /China/],
      [symmetric, "RSA_AES_KEY_WRAP_SHA_256", "RSA_2048", /RSAES_OAEP_SHA_256 or RSAES_OAEP_SHA_1/],
      [p521, "RSAES_OAEP_SHA_256", "RSA_2048", /ECC_NIST_P521/],
      [generated, "RSAES_OAEP_SHA_256", "RSA_2048", /origin is AWS_KMS/],
    ];
    for (const [keyId, algorithm, spec, message] of refusals) {
      const error = await expectKmsError(
        parametersFor(keyId, algorithm, spec),
        "UnsupportedOperationException",
      );
      expect(error.message).toMatch(message);
    }
    // P-521 under RSAES_OAEP_* is fine with a longer wrapping key.
    await parametersFor(p521, "RSAES_OAEP_SHA_256", "RSA_3072");
    await expectKmsError(parametersFor(symmetric, "RSA_OAEP", "RSA_2048"), "ValidationException");
  });
});
