import {
  DescribeKeyCommand,
  type KMSClient,
  ListKeysCommand,
  ListResourceTagsCommand,
} from "@aws-sdk/client-kms";
import type { KeyClient } from "@azure/keyvault-keys";
import { parseKeyferryTags } from "../../src/providers/tags.js";

/** What the emulated clouds hold, read through the official SDKs, by keyferry's tags. */

/** Live (not pending deletion) KMS keys by `key/version` of their keyferry tags, and keys without them. */
export async function awsKeysByVersion(client: KMSClient) {
  const live = new Map<string, string[]>();
  const untagged: string[] = [];
  let marker: string | undefined;
  do {
    const page = await client.send(new ListKeysCommand({ Limit: 100, Marker: marker }));
    for (const entry of page.Keys ?? []) {
      const keyId = entry.KeyId ?? "";
      const metadata = (await client.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata;
      if (metadata?.KeyState === "PendingDeletion") continue;
      const tagList = (await client.send(new ListResourceTagsCommand({ KeyId: keyId }))).Tags ?? [];
      const tags = parseKeyferryTags(
        Object.fromEntries(tagList.map((t) => [t.TagKey ?? "", t.TagValue ?? ""])),
      );
      if (!tags) {
        untagged.push(keyId);
        continue;
      }
      const id = `${tags.keyName}/${tags.version}`;
      live.set(id, [...(live.get(id) ?? []), metadata?.Arn ?? keyId]);
    }
    marker = page.Truncated ? page.NextMarker : undefined;
  } while (marker);
  return { live, untagged };
}

/** Enabled Azure key versions by `remote name/keyferry version` (from their tags), and the live KEKs. */
export async function azureVersionsByVersion(client: KeyClient) {
  const live = new Map<string, string[]>();
  const keks: string[] = [];
  const untagged: string[] = [];
  for await (const key of client.listPropertiesOfKeys()) {
    if (key.name.startsWith("kf-kek-")) {
      keks.push(key.name);
      continue;
    }
    for await (const version of client.listPropertiesOfKeyVersions(key.name)) {
      const tags = parseKeyferryTags(version.tags ?? {});
      if (!tags || tags.keyName !== key.name) {
        untagged.push(version.id ?? key.name);
        continue;
      }
      const id = `${key.name}/${tags.version}`;
      live.set(id, [...(live.get(id) ?? []), version.id ?? ""]);
    }
  }
  return { live, keks, untagged };
}
