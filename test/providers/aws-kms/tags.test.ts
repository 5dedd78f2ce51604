import { describe, expect, it } from "vitest";
import { keyferryTags, parseKeyferryTags, tagsMatch } from "../../../src/providers/tags.js";

/** src/providers/tags.ts (shared with the Azure provider). */

describe("keyferry tags", () => {
  it("names key, version and operation, and reads them back", () => {
    const tags = keyferryTags({ keyName: "payments", version: 3, operationId: "op-1" });
    expect(tags).toEqual({
      "keyferry:key": "payments",
      "keyferry:version": "3",
      "keyferry:operation": "op-1",
    });
    expect(parseKeyferryTags(tags)).toEqual({ keyName: "payments", version: 3, operationId: "op-1" });
    expect(keyferryTags({ keyName: "k", version: 1, operationId: undefined })).toEqual({
      "keyferry:key": "k",
      "keyferry:version": "1",
    });
  });

  it("names the destination when given, and matches it when asked", () => {
    const tags = keyferryTags({ keyName: "k", version: 1, operationId: "op", kms: "aws-prod" });
    expect(tags["keyferry:kms"]).toBe("aws-prod");
    expect(parseKeyferryTags(tags)?.kms).toBe("aws-prod");
    expect(tagsMatch(tags, { keyName: "k", version: 1, operationId: "op", kms: "aws-prod" })).toBe(true);
    expect(tagsMatch(tags, { keyName: "k", version: 1, operationId: "op", kms: "aws-dr" })).toBe(false);
    expect(
      tagsMatch(keyferryTags({ keyName: "k", version: 1, operationId: "op" }), {
        keyName: "k",
        version: 1,
        kms: "x",
      }),
    ).toBe(false);
  });

  it("ignores objects that are not keyferry's or whose tags are damaged", () => {
    expect(parseKeyferryTags({ owner: "someone" })).toBeUndefined();
    expect(parseKeyferryTags({ "keyferry:key": "k", "keyferry:version": "two" })).toBeUndefined();
    expect(parseKeyferryTags({ "keyferry:key": "k", "keyferry:version": "0" })).toBeUndefined();
  });

  it("matches key and version, and the operation only when one is asked for", () => {
    const tags = keyferryTags({ keyName: "k", version: 2, operationId: "op-1" });
    expect(tagsMatch(tags, { keyName: "k", version: 2 })).toBe(true);
    expect(tagsMatch(tags, { keyName: "k", version: 2, operationId: "op-1" })).toBe(true);
    expect(tagsMatch(tags, { keyName: "k", version: 2, operationId: "op-2" })).toBe(false);
    expect(tagsMatch(tags, { keyName: "k", version: 1 })).toBe(false);
    expect(tagsMatch(tags, { keyName: "other", version: 2 })).toBe(false);
  });
});
