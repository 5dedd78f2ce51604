import { describe, expect, it } from "vitest";
import { KmsClientCache } from "../../../src/providers/aws-kms/client.js";
import type { KmsDestination } from "../../../src/providers/kms-provider.js";
import { refusal } from "../../helpers/crypto-fixtures.js";

/** Clients per destination: reused while the destination is unchanged, rebuilt when its revision grows. */

const destination: KmsDestination = {
  name: "aws",
  provider: "awskms",
  keyCollection: "eu-west-1",
  credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" },
  options: { endpoint: "http://127.0.0.1:4566" },
  revision: 1,
};

describe("AWS KMS clients", () => {
  it("reuses a destination's client until its revision changes", async () => {
    const cache = new KmsClientCache(undefined);
    const first = cache.clientFor(destination);
    expect(cache.clientFor({ ...destination })).toBe(first);
    const second = cache.clientFor({ ...destination, keyCollection: "us-east-1", revision: 2 });
    expect(second).not.toBe(first);
    expect(await second.config.region()).toBe("us-east-1");
    expect(cache.clientFor({ ...destination, name: "other" })).not.toBe(second);
    cache.close();
  });

  it("signs with the destination's credentials, or placeholders for a loopback emulator without any", async () => {
    const cache = new KmsClientCache(undefined);
    const explicit = cache.clientFor(destination);
    expect(await explicit.config.credentials()).toMatchObject({ accessKeyId: "AKIDEXAMPLE" });
    const emulator = cache.clientFor({ ...destination, name: "emulator", credentials: undefined });
    expect(await emulator.config.credentials()).toMatchObject({ accessKeyId: "KEYFERRYEMULATOR" });
    expect(await explicit.config.maxAttempts()).toBe(1);
    cache.close();
  });

  it("refuses plain http away from loopback, and credentials of another cloud", () => {
    const cache = new KmsClientCache(undefined);
    const remote = { ...destination, options: { endpoint: "http://kms.example.com" } };
    expect(refusal(() => cache.clientFor(remote)).code).toBe("invalid_endpoint");
    const azure = { ...destination, credentials: { tenantId: "t", clientId: "c", clientSecret: "s" } };
    expect(refusal(() => cache.clientFor(azure)).code).toBe("invalid_credentials");
    cache.close();
  });
});
