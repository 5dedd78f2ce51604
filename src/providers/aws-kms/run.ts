import type { WrappingKeySpec } from "@aws-sdk/client-kms";
import type { KeyToDistribute } from "../kms-provider.js";
import type { KmsSession, RetryPolicy } from "./client.js";

/** What every step of one provider call works with: the session, the key, the clock and the policies. */
export interface AwsRun {
  session: KmsSession;
  key: KeyToDistribute;
  now: () => number;
  /** GetParametersForImport's WrappingKeySpec; RSA_4096 unless a test asks for a faster one. */
  wrappingKeySpec: WrappingKeySpec;
  retry: RetryPolicy;
  /** The same run against another region of the destination's account (multi-Region replicas). */
  inRegion(region: string): AwsRun;
}

/** Enough to read from KMS: the key is only named in log lines, and listing keys has none. */
export interface AwsReader {
  session: KmsSession;
  key?: Pick<KeyToDistribute, "name">;
}
