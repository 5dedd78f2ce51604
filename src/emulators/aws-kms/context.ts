import type { KeyPairKeyObjectResult } from "node:crypto";
import type { KmsState } from "./state.js";

/** What an operation handler receives besides its input: passed in, so handlers stay plain functions. */
export interface OperationContext {
  readonly state: KmsState;
  /** From the request's SigV4 credential scope. */
  readonly region: string;
  readonly accountId: string;
  /** Milliseconds since the epoch, read once per request from the emulator's clock. */
  readonly now: number;
  /**
   * Take one token from a quota bucket, throwing ThrottlingException when it is empty. Cryptographic
   * operations call it themselves once they know the key's type (symmetric, RSA and ECC quotas differ).
   */
  readonly takeQuota: (bucket: string) => void;
  /** A wrapping key pair of `bits` for GetParametersForImport (fresh, unless the emulator reuses them). */
  readonly wrappingKeyPair: (bits: number) => Promise<KeyPairKeyObjectResult>;
  /** Name the key a request acted on, for the debug log line (ids only, never material). */
  readonly noteKey: (keyId: string) => void;
}

/** JSON-serialisable answer of an operation; blobs already base64, timestamps epoch seconds. */
export type OperationOutput = Record<string, unknown>;

export type OperationHandler = (
  input: unknown,
  context: OperationContext,
) => OperationOutput | Promise<OperationOutput>;

/** AWS JSON timestamps are epoch seconds, fractional. */
export function epochSeconds(ms: number): number {
  return ms / 1000;
}
