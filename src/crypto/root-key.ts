import { createHash, randomBytes } from "node:crypto";
import { open } from "node:fs/promises";
import { InvalidInputError } from "../errors/invalid-input-error.js";
import { zero } from "./zero.js";

/** The key everything at rest is sealed under (SPEC section 7). */
export interface RootKey {
  /** `rootKeyId(bytes)`: safe to store next to sealed data and to log. */
  readonly id: string;
  readonly bytes: Uint8Array;
}

export const ROOT_KEY_BYTES = 32;

// Canonical padded base64 only: no whitespace inside, no base64url, no missing padding. Node's decoder
// would silently skip characters it does not know, turning a typo into a different key.
const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Parse a base64 root key. Errors name `source` (the variable or file it came from) and the decoded length,
 * never the value itself: these messages reach logs.
 */
export function parseRootKey(base64: string, source = "KEYFERRY_ROOT_KEY"): RootKey {
  const text = base64.trim();
  if (text.length === 0) {
    throw new InvalidInputError("root_key_invalid", `${source} is empty; it must hold 32 bytes in base64`);
  }
  if (!STRICT_BASE64.test(text)) {
    throw new InvalidInputError("root_key_invalid", `${source} is not valid base64`);
  }
  const decoded = Buffer.from(text, "base64");
  try {
    if (decoded.length !== ROOT_KEY_BYTES) {
      throw new InvalidInputError(
        "root_key_invalid",
        `${source} decodes to ${decoded.length} bytes; a root key is exactly ${ROOT_KEY_BYTES} bytes`,
      );
    }
    // Small decodes share Node's Buffer pool; the key gets memory of its own that can be zeroed alone.
    const bytes = new Uint8Array(decoded);
    return Object.freeze({ id: rootKeyId(bytes), bytes });
  } finally {
    zero(decoded);
  }
}

/**
 * Read a root key file (`KEYFERRY_ROOT_KEY_FILE`). A world-readable file is refused: any local user could
 * read every sealed key. Group-readable is allowed so that a service group can own the secret.
 */
export async function readRootKeyFile(path: string): Promise<RootKey> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, "r");
  } catch (error) {
    throw new InvalidInputError(
      "root_key_file_unreadable",
      `cannot open root key file ${path}: ${codeOf(error)}`,
    );
  }
  try {
    // Checked on the open handle, so the file read is the file whose mode was checked.
    const stats = await handle.stat();
    if (!stats.isFile()) {
      throw new InvalidInputError("root_key_file_unreadable", `root key file ${path} is not a regular file`);
    }
    const mode = stats.mode & 0o777;
    if ((mode & 0o007) !== 0) {
      throw new InvalidInputError(
        "root_key_file_insecure",
        `root key file ${path} has mode 0${mode.toString(8)}, open to other users; chmod 600 or 640 it`,
        { path, mode: `0${mode.toString(8)}` },
      );
    }
    const content = await handle.readFile();
    try {
      return parseRootKey(content.toString("utf8"), `root key file ${path}`);
    } finally {
      zero(content);
    }
  } finally {
    await handle.close();
  }
}

/** 16 hex characters of SHA-256("keyferry root key id\0" || key): names a root key without revealing it. */
export function rootKeyId(bytes: Uint8Array): string {
  if (bytes.length !== ROOT_KEY_BYTES) {
    throw new InvalidInputError("root_key_invalid", `a root key is exactly ${ROOT_KEY_BYTES} bytes`);
  }
  return createHash("sha256").update("keyferry root key id\0").update(bytes).digest("hex").slice(0, 16);
}

/** A fresh root key in base64, for `keyferry root-key generate`. */
export function generateRootKey(): string {
  const bytes = randomBytes(ROOT_KEY_BYTES);
  try {
    return bytes.toString("base64");
  } finally {
    zero(bytes);
  }
}

function codeOf(error: unknown): string {
  return typeof error === "object" && error !== null && "code" in error
    ? String(error.code)
    : "unknown error";
}
