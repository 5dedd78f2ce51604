import { createCipheriv, randomBytes } from "node:crypto";
import { generateKeyMaterial } from "../../src/crypto/generate.js";
import { parseRootKey } from "../../src/crypto/root-key.js";
import { seal } from "../../src/crypto/seal.js";
import { type Comparison, compare, measure } from "./measure.js";

/** Sealing with @noble/ciphers GCM against node:crypto's OpenSSL GCM, on an RSA-4096 PKCS#8-sized value. */
export async function benchSeal(count: number): Promise<Comparison> {
  const root = parseRootKey(randomBytes(32).toString("base64"));
  const plaintext = randomBytes(2374);
  const context = { purpose: "key-material", name: "bench", version: 1 } as const;
  const noble = await measure("seal (noble GCM)", count, () => {
    for (let i = 0; i < count; i++) seal(root, plaintext, context);
  });
  const node = await measure("node:crypto GCM", count, () => {
    for (let i = 0; i < count; i++) {
      const cipher = createCipheriv("aes-256-gcm", root.bytes, randomBytes(12));
      cipher.setAAD(Buffer.from("keyferry/seal/v1"));
      Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    }
  });
  return compare("seal 2.4 KB", noble, node);
}

/** RSA-4096 generation all at once (threadpool, both cores) against one after another. */
export async function benchRsaGeneration(count: number): Promise<Comparison> {
  const parallel = await measure("rsa-4096 in parallel", count, async () => {
    await Promise.all(Array.from({ length: count }, () => generateKeyMaterial("rsa-4096")));
  });
  const sequential = await measure("rsa-4096 one at a time", count, async () => {
    for (let i = 0; i < count; i++) await generateKeyMaterial("rsa-4096");
  });
  return compare("rsa-4096 generation", parallel, sequential);
}
