import { createDecipheriv, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { generateRootKey, parseRootKey, type RootKey } from "../../src/crypto/root-key.js";
import { reseal, type SealContext, seal, sealedRootKeyId, unseal } from "../../src/crypto/seal.js";

const rootA = parseRootKey(generateRootKey());
const rootB = parseRootKey(generateRootKey());
const material: SealContext = { purpose: "key-material", name: "payments", version: 3 };
const credentials: SealContext = { purpose: "kms-credentials", name: "aws-prod" };
const HEADER = 23;

function codeOf(action: () => unknown): string | undefined {
  try {
    action();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
}

function flipped(sealed: Buffer, index: number): Buffer {
  const copy = Buffer.from(sealed);
  copy[index] = (copy[index] ?? 0) ^ 0x01;
  return copy;
}

/** The associated data exactly as documented in seal.ts, rebuilt here so the test does not trust it. */
function documentedAad(header: Buffer, context: SealContext): Buffer {
  const fields = [
    "keyferry/seal/v1",
    header,
    context.purpose,
    context.name,
    context.version?.toString() ?? "",
  ];
  return Buffer.concat(
    fields.flatMap((field) => {
      const bytes = typeof field === "string" ? Buffer.from(field, "utf8") : field;
      const length = Buffer.alloc(4);
      length.writeUInt32BE(bytes.length);
      return [length, bytes];
    }),
  );
}

describe("seal and unseal", () => {
  it.each([
    ["key material", material, randomBytes(1217)],
    [
      "kms credentials",
      credentials,
      Buffer.from(JSON.stringify({ accessKeyId: "AKIA", secretAccessKey: "s" })),
    ],
  ])("round-trips %s", (_label, context, plaintext) => {
    const sealed = seal(rootA, plaintext, context);
    expect(sealed).toHaveLength(HEADER + plaintext.length + 16);
    expect(unseal(rootA, sealed, context).equals(plaintext)).toBe(true);
    expect(unseal([rootB, rootA], sealed, context).equals(plaintext)).toBe(true);
  });

  it("writes the documented header and never the plaintext", () => {
    const plaintext = randomBytes(256);
    const sealed = seal(rootA, plaintext, material);
    expect(sealed.subarray(0, 3).equals(Buffer.from([0x6b, 0x66, 0x01]))).toBe(true);
    expect(sealed.subarray(3, 11).toString("hex")).toBe(rootA.id);
    expect(sealedRootKeyId(sealed)).toBe(rootA.id);
    expect(sealed.indexOf(plaintext)).toBe(-1);
    for (let start = 0; start + 16 <= plaintext.length; start++) {
      expect(sealed.indexOf(plaintext.subarray(start, start + 16))).toBe(-1);
    }
  });

  it("uses a fresh nonce for every seal", () => {
    const plaintext = randomBytes(32);
    const first = seal(rootA, plaintext, material);
    const second = seal(rootA, plaintext, material);
    expect(first.subarray(11, HEADER).equals(second.subarray(11, HEADER))).toBe(false);
    expect(first.equals(second)).toBe(false);
  });

  it("is plain AES-256-GCM: node's OpenSSL decrypts the envelope with the documented AAD", () => {
    const plaintext = randomBytes(100);
    const sealed = seal(rootA, plaintext, material);
    const header = sealed.subarray(0, HEADER);
    const decipher = createDecipheriv("aes-256-gcm", rootA.bytes, header.subarray(11), { authTagLength: 16 });
    decipher.setAAD(documentedAad(header, material));
    decipher.setAuthTag(sealed.subarray(sealed.length - 16));
    const opened = Buffer.concat([
      decipher.update(sealed.subarray(HEADER, sealed.length - 16)),
      decipher.final(),
    ]);
    expect(opened.equals(plaintext)).toBe(true);
  });
});

describe("unseal refuses", () => {
  const plaintext = randomBytes(64);
  const sealed = seal(rootA, plaintext, material);

  it.each<[string, SealContext]>([
    ["another name", { ...material, name: "payment" }],
    ["another version", { ...material, version: 4 }],
    ["no version", { purpose: "key-material", name: "payments" }],
    ["another purpose", { ...material, purpose: "kms-credentials" }],
  ])("%s with unseal_failed, naming the context but no bytes", (_label, context) => {
    let error: (Error & { code?: string }) | undefined;
    try {
      unseal(rootA, sealed, context);
    } catch (caught) {
      error = caught as Error & { code?: string };
    }
    expect(error?.code).toBe("unseal_failed");
    expect(error?.message).toContain(`"${context.name}"`);
    expect(error?.message).not.toMatch(/[0-9a-f]{32}/);
  });

  it("keeps length-prefixed fields apart", () => {
    const split = seal(rootA, plaintext, { purpose: "key-material", name: "ab", version: 12 });
    expect(codeOf(() => unseal(rootA, split, { purpose: "key-material", name: "ab1", version: 2 }))).toBe(
      "unseal_failed",
    );
  });

  it("any flipped header or ciphertext byte", () => {
    expect(codeOf(() => unseal(rootA, flipped(sealed, 0), material))).toBe("sealed_malformed");
    expect(codeOf(() => unseal(rootA, flipped(sealed, 2), material))).toBe("sealed_malformed");
    expect(codeOf(() => unseal(rootA, flipped(sealed, 5), material))).toBe("root_key_unknown");
    expect(codeOf(() => unseal(rootA, flipped(sealed, 15), material))).toBe("unseal_failed");
    expect(codeOf(() => unseal(rootA, flipped(sealed, HEADER + 3), material))).toBe("unseal_failed");
    expect(codeOf(() => unseal(rootA, flipped(sealed, sealed.length - 1), material))).toBe("unseal_failed");
  });

  it("a header id pointing to another loaded root key", () => {
    const relabelled = Buffer.from(sealed);
    relabelled.write(rootB.id, 3, "hex");
    expect(codeOf(() => unseal([rootA, rootB], relabelled, material))).toBe("unseal_failed");
  });

  it("truncated envelopes", () => {
    expect(codeOf(() => unseal(rootA, sealed.subarray(0, sealed.length - 1), material))).toBe(
      "unseal_failed",
    );
    expect(codeOf(() => unseal(rootA, sealed.subarray(0, HEADER + 16), material))).toBe("sealed_malformed");
    expect(codeOf(() => unseal(rootA, sealed.subarray(0, 5), material))).toBe("sealed_malformed");
    expect(codeOf(() => unseal(rootA, new Uint8Array(0), material))).toBe("sealed_malformed");
  });

  it("a root key that is not loaded, naming its id", () => {
    expect(() => unseal(rootB, sealed, material)).toThrow(
      new RegExp(`root key ${rootA.id}, which is not loaded`),
    );
    expect(codeOf(() => unseal([], sealed, material))).toBe("root_key_unknown");
  });

  it("a root key whose id does not match its bytes", () => {
    const forged: RootKey = { id: rootA.id, bytes: rootB.bytes };
    expect(codeOf(() => unseal(forged, sealed, material))).toBe("root_key_invalid");
    expect(codeOf(() => seal(forged, plaintext, material))).toBe("root_key_invalid");
  });
});

describe("seal validates its inputs", () => {
  it.each<[string, SealContext]>([
    ["an empty name", { purpose: "key-material", name: "" }],
    ["a lone surrogate in the name", { purpose: "key-material", name: "key\uD800" }],
    ["version 0", { purpose: "key-material", name: "k", version: 0 }],
    ["a fractional version", { purpose: "key-material", name: "k", version: 1.5 }],
    ["an unknown purpose", { purpose: "tokens" as SealContext["purpose"], name: "k" }],
  ])("refuses %s", (_label, context) => {
    expect(codeOf(() => seal(rootA, randomBytes(8), context))).toBe("seal_context_invalid");
    expect(codeOf(() => unseal(rootA, seal(rootA, randomBytes(8), material), context))).toBe(
      "seal_context_invalid",
    );
  });

  it("refuses an empty plaintext", () => {
    expect(codeOf(() => seal(rootA, new Uint8Array(0), material))).toBe("seal_input_invalid");
  });
});

describe("reseal", () => {
  it("moves an envelope to a new root key, which alone opens it afterwards", () => {
    const plaintext = randomBytes(48);
    const old = seal(rootA, plaintext, material);
    const moved = reseal([rootA], rootB, old, material);
    expect(sealedRootKeyId(moved)).toBe(rootB.id);
    expect(sealedRootKeyId(moved)).not.toBe(sealedRootKeyId(old));
    expect(unseal(rootB, moved, material).equals(plaintext)).toBe(true);
    expect(unseal([rootA, rootB], moved, material).equals(plaintext)).toBe(true);
    expect(codeOf(() => unseal(rootA, moved, material))).toBe("root_key_unknown");
  });

  it("refuses to reseal under the wrong context", () => {
    const old = seal(rootA, randomBytes(16), material);
    expect(codeOf(() => reseal(rootA, rootB, old, { ...material, version: 2 }))).toBe("unseal_failed");
  });
});
