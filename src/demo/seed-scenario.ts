import { constants, createPublicKey, type KeyObject, publicEncrypt, randomBytes, verify } from "node:crypto";
import { DecryptCommand, EncryptCommand, KMSClient, SignCommand } from "@aws-sdk/client-kms";
import { CryptographyClient } from "@azure/keyvault-keys";
import type { ApiClient } from "../cli/client/api-client.js";
import { type OperationBody, waitForOperation } from "../cli/client/wait.js";

/**
 * The seed scenario (issue 5) as a runnable demo: every step goes through keyferry's API, and every claim
 * is checked against the (emulated) cloud through its official SDK. `npm run demo` runs it against the dev
 * stack; an integration test runs it against a dev stack of its own.
 */
export interface DemoTarget {
  client: ApiClient;
  awsKms: string;
  azureKms: string;
  awsEndpoint: string;
  azureVaultUrl: string;
  log: (line: string) => void;
}

interface KeyBody {
  name: string;
  latestVersion: number;
  versions: Record<string, { createdAt: string; publicKey?: string }>;
}
interface CopyBody {
  remoteName: string;
  state: string;
  versions: Record<string, string>;
}

const emulatorCredential = {
  getToken: async () => ({ token: "keyferry-demo", expiresOnTimestamp: Date.now() + 3_600_000 }),
};

export async function runSeedScenario(target: DemoTarget): Promise<void> {
  const suffix = randomBytes(3).toString("hex");
  await azureRsaFlow(target, `demo-rsa-${suffix}`);
  await awsAesFlow(target, `demo-aes-${suffix}`);
  await awsEcdsaFlow(target, `demo-ec-${suffix}`);
  target.log("demo: every step checked");
}

async function run(
  target: DemoTarget,
  what: string,
  request: Promise<OperationBody>,
): Promise<OperationBody> {
  const accepted = await request;
  const final = await waitForOperation(target.client, accepted.id, { intervalMs: 200, timeoutMs: 120_000 });
  if (final.state !== "succeeded") {
    throw new Error(
      `${what}: operation ${final.id} ${final.state}: ${final.error?.message ?? "no error given"}`,
    );
  }
  target.log(`✓ ${what} (operation ${final.id})`);
  return final;
}

const keyPath = (name: string) => `/v1/keys/${encodeURIComponent(name)}`;
const copyPath = (kms: string, key: string) =>
  `/v1/kms/${encodeURIComponent(kms)}/keys/${encodeURIComponent(key)}`;

function publicKeyOf(key: KeyBody, version: number): KeyObject {
  const text = key.versions[String(version)]?.publicKey;
  if (!text) throw new Error(`${key.name} v${version} has no public key in the API answer`);
  return text.includes("BEGIN")
    ? createPublicKey(text)
    : createPublicKey({ key: Buffer.from(text, "base64"), format: "der", type: "spki" });
}

async function expectFailure(what: string, attempt: () => Promise<unknown>): Promise<void> {
  try {
    await attempt();
  } catch {
    return;
  }
  throw new Error(`${what} should have failed`);
}

/** RSA key → Azure Key Vault (decrypt, hsm): encrypt locally, decrypt in the vault; rotate; disable v1; remove; redistribute. */
async function azureRsaFlow(target: DemoTarget, name: string): Promise<void> {
  const { client } = target;
  await run(
    target,
    `create ${name} (rsa-2048)`,
    client.request("POST", "/v1/keys", { name, type: "rsa-2048" }),
  );
  const distribute = () =>
    client.request<OperationBody>("PUT", copyPath(target.azureKms, name), {
      purpose: ["decrypt"],
      protection: "hsm",
    });
  await run(target, `distribute ${name} to ${target.azureKms}`, distribute());

  const decryptInVault = async (version: number, key: KeyBody) => {
    const copy = await client.request<CopyBody>("GET", copyPath(target.azureKms, name));
    const kid = copy.versions[String(version)];
    if (!kid) throw new Error(`no remote id for v${version}`);
    const text = Buffer.from(`hello from keyferry, v${version}`);
    const ciphertext = publicEncrypt(
      { key: publicKeyOf(key, version), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha1" },
      text,
    );
    const crypto = new CryptographyClient(kid, emulatorCredential, {
      allowInsecureConnection: true,
      disableChallengeResourceVerification: true,
    });
    const { result } = await crypto.decrypt({ algorithm: "RSA-OAEP", ciphertext });
    if (!Buffer.from(result).equals(text))
      throw new Error(`the vault decrypted v${version} to something else`);
  };

  let key = await client.request<KeyBody>("GET", keyPath(name));
  await decryptInVault(1, key);
  target.log("✓ encrypted locally with v1's public key, decrypted inside the vault");

  await run(target, `rotate ${name}`, client.request("POST", `${keyPath(name)}/rotate`, {}));
  key = await client.request<KeyBody>("GET", keyPath(name));
  if (key.latestVersion !== 2) throw new Error("rotation did not make v2");
  await decryptInVault(2, key);
  target.log("✓ v2 is in the vault and decrypts there");

  await run(
    target,
    `disable v1 of ${name}`,
    client.request("PATCH", keyPath(name), { minEnabledVersion: 2 }),
  );
  await expectFailure("decrypting with the disabled v1", () => decryptInVault(1, key));
  await decryptInVault(2, key);
  target.log("✓ v1 refuses to work in the vault, v2 still works");

  await run(
    target,
    `remove ${name} from ${target.azureKms}`,
    client.request("DELETE", copyPath(target.azureKms, name)),
  );
  await client.request<KeyBody>("GET", keyPath(name));
  target.log("✓ the key stays in keyferry after the copy is removed");

  await run(target, `redistribute ${name} to ${target.azureKms}`, distribute());
  await decryptInVault(2, await client.request<KeyBody>("GET", keyPath(name)));
  target.log("✓ redistributed while the old copy sits soft-deleted, and it works");
}

function kmsClient(target: DemoTarget): KMSClient {
  return new KMSClient({
    endpoint: target.awsEndpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "KEYFERRYDEMO", secretAccessKey: "demo" },
  });
}

/** AES key → AWS KMS: encrypt and decrypt inside KMS; rotate; disable v1; remove; redistribute. */
async function awsAesFlow(target: DemoTarget, name: string): Promise<void> {
  const { client } = target;
  const kms = kmsClient(target);
  await run(
    target,
    `create ${name} (aes256-gcm96)`,
    client.request("POST", "/v1/keys", { name, type: "aes256-gcm96" }),
  );
  const distribute = () =>
    client.request<OperationBody>("PUT", copyPath(target.awsKms, name), {
      purpose: ["encrypt", "decrypt"],
      protection: "hsm",
    });
  await run(target, `distribute ${name} to ${target.awsKms}`, distribute());
  const alias = async () => (await client.request<CopyBody>("GET", copyPath(target.awsKms, name))).remoteName;
  const encrypt = async (text: string) =>
    (await kms.send(new EncryptCommand({ KeyId: await alias(), Plaintext: Buffer.from(text) })))
      .CiphertextBlob;
  const decrypt = async (blob: Uint8Array | undefined) =>
    Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext ?? []).toString();

  const v1 = await encrypt("secret under v1");
  if ((await decrypt(v1)) !== "secret under v1") throw new Error("KMS round trip failed");
  target.log("✓ encrypted and decrypted inside AWS KMS through the alias");

  await run(target, `rotate ${name}`, client.request("POST", `${keyPath(name)}/rotate`, {}));
  const v2 = await encrypt("secret under v2");
  if ((await decrypt(v1)) !== "secret under v1" || (await decrypt(v2)) !== "secret under v2") {
    throw new Error("after rotation, old and new ciphertexts must both decrypt");
  }
  target.log("✓ the alias encrypts under v2; v1 ciphertexts still decrypt");

  await run(
    target,
    `disable v1 of ${name}`,
    client.request("PATCH", keyPath(name), { minEnabledVersion: 2 }),
  );
  await expectFailure("decrypting a v1 ciphertext", () => decrypt(v1));
  if ((await decrypt(v2)) !== "secret under v2") throw new Error("v2 must still work");
  target.log("✓ v1 no longer decrypts, v2 does");

  await run(
    target,
    `remove ${name} from ${target.awsKms}`,
    client.request("DELETE", copyPath(target.awsKms, name)),
  );
  await expectFailure("decrypting after remove", () => decrypt(v2));
  await run(target, `redistribute ${name} to ${target.awsKms}`, distribute());
  const again = await encrypt("after redistribution");
  if ((await decrypt(again)) !== "after redistribution") throw new Error("redistributed copy must work");
  target.log("✓ removed copy stops working at once; redistributed copy works");
  kms.destroy();
}

/** ECDSA key → AWS KMS (sign): sign inside KMS, verify locally with keyferry's public key. */
async function awsEcdsaFlow(target: DemoTarget, name: string): Promise<void> {
  const { client } = target;
  const kms = kmsClient(target);
  await run(
    target,
    `create ${name} (ecdsa-p256)`,
    client.request("POST", "/v1/keys", { name, type: "ecdsa-p256" }),
  );
  await run(
    target,
    `distribute ${name} to ${target.awsKms}`,
    client.request("PUT", copyPath(target.awsKms, name), { purpose: ["sign", "verify"], protection: "hsm" }),
  );
  const copy = await client.request<CopyBody>("GET", copyPath(target.awsKms, name));
  const message = Buffer.from("signed inside AWS KMS");
  const { Signature } = await kms.send(
    new SignCommand({
      KeyId: copy.remoteName,
      Message: message,
      MessageType: "RAW",
      SigningAlgorithm: "ECDSA_SHA_256",
    }),
  );
  const key = await client.request<KeyBody>("GET", keyPath(name));
  if (!Signature || !verify("sha256", message, publicKeyOf(key, 1), Buffer.from(Signature))) {
    throw new Error("the KMS signature does not verify with keyferry's public key");
  }
  target.log("✓ signed inside AWS KMS, verified locally with keyferry's public key");
  kms.destroy();
}
