import { createHash, randomBytes } from "node:crypto";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateRootKey, parseRootKey, readRootKeyFile, rootKeyId } from "../../src/crypto/root-key.js";

/** Run `action`, expect it to fail, and return the error so its message can be inspected. */
async function failure(action: () => unknown): Promise<Error & { code?: string }> {
  try {
    await action();
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error("expected a failure");
}

describe("parseRootKey", () => {
  it("accepts 32 bytes of base64, surrounding whitespace allowed", () => {
    const bytes = randomBytes(32);
    const root = parseRootKey(`  ${bytes.toString("base64")}\n`);
    expect(Buffer.from(root.bytes).equals(bytes)).toBe(true);
    expect(root.id).toBe(rootKeyId(bytes));
  });

  it.each([
    ["31 bytes", randomBytes(31).toString("base64"), /decodes to 31 bytes/],
    ["33 bytes", randomBytes(33).toString("base64"), /decodes to 33 bytes/],
    ["base64url", Buffer.alloc(32, 0xfb).toString("base64url"), /not valid base64/],
    ["missing padding", randomBytes(32).toString("base64").replace("=", ""), /not valid base64/],
    [
      "inner whitespace",
      randomBytes(32)
        .toString("base64")
        .replace(/^(.{20})/, "$1 "),
      /not valid base64/,
    ],
    ["a stray character", `${randomBytes(30).toString("base64")}!`, /not valid base64/],
  ])("refuses %s without echoing the value", async (_label, input, message) => {
    const error = await failure(() => parseRootKey(input));
    expect(error.message).toMatch(message);
    expect(error.message).toContain("KEYFERRY_ROOT_KEY");
    expect(error.code).toBe("root_key_invalid");
    expect(error.message).not.toContain(input.trim());
    expect(error.message).not.toContain(input.trim().slice(0, 12));
  });

  it("refuses an empty value and names the source it was given", async () => {
    const error = await failure(() => parseRootKey(" \n", "KEYFERRY_ROOT_KEY_FILE"));
    expect(error.message).toMatch(/KEYFERRY_ROOT_KEY_FILE is empty/);
  });
});

describe("rootKeyId and generateRootKey", () => {
  it("is 16 hex characters, stable, and differs between keys", () => {
    const key = Buffer.alloc(32, 7);
    const id = rootKeyId(key);
    expect(id).toMatch(/^[0-9a-f]{16}$/);
    expect(rootKeyId(Buffer.alloc(32, 7))).toBe(id);
    expect(rootKeyId(Buffer.alloc(32, 8))).not.toBe(id);
  });

  it("matches the documented derivation, SHA-256 of a domain string and the key", () => {
    const key = Buffer.alloc(32, 0xab);
    const expected = createHash("sha256")
      .update(Buffer.concat([Buffer.from("keyferry root key id\0"), key]))
      .digest("hex")
      .slice(0, 16);
    expect(rootKeyId(key)).toBe(expected);
  });

  it("generates parseable, distinct keys", () => {
    const first = generateRootKey();
    expect(parseRootKey(first).bytes).toHaveLength(32);
    expect(generateRootKey()).not.toBe(first);
  });
});

describe("readRootKeyFile", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "keyferry-root-key-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function keyFile(name: string, mode: number, content = `${generateRootKey()}\n`): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, content);
    await chmod(path, mode);
    return path;
  }

  it("reads a 0600 file and trims the trailing newline", async () => {
    const base64 = generateRootKey();
    const root = await readRootKeyFile(await keyFile("private", 0o600, `${base64}\n`));
    expect(root.id).toBe(parseRootKey(base64).id);
  });

  it("accepts a group-readable 0640 file", async () => {
    await expect(readRootKeyFile(await keyFile("group", 0o640))).resolves.toHaveProperty("id");
  });

  it("refuses a world-readable 0644 file, naming the path and the mode", async () => {
    const path = await keyFile("world", 0o644);
    const error = await failure(() => readRootKeyFile(path));
    expect(error.code).toBe("root_key_file_insecure");
    expect(error.message).toContain(path);
    expect(error.message).toContain("0644");
  });

  it("refuses a missing file and a bad file naming the path, never the content", async () => {
    const missing = await failure(() => readRootKeyFile(join(dir, "absent")));
    expect(missing.message).toMatch(/cannot open root key file .*absent: ENOENT/);
    const short = randomBytes(16).toString("base64");
    const bad = await failure(async () => readRootKeyFile(await keyFile("short", 0o600, short)));
    expect(bad.message).toMatch(/root key file .*short decodes to 16 bytes/);
    expect(bad.message).not.toContain(short);
  });
});
