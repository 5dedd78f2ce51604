import { z } from "zod";
import type { OperationContext, OperationOutput } from "../context.js";
import { tagError } from "../errors.js";
import { findKey, requireState } from "../key-lookup.js";
import { page } from "../paging.js";
import type { KmsKey } from "../state.js";
import { keyIdMember, parseInput } from "../validation.js";

/**
 * TagResource, UntagResource, ListResourceTags. Tag rules from the TagResource reference and the
 * "Tagging keys" guide: keys 1..128 characters, values 0..256, at most 50 tags per key, the `aws:` prefix
 * reserved (TagException), a second tag with an existing key replaces its value.
 */

const MAX_TAGS_PER_KEY = 50;
const TAGGABLE = ["Enabled", "Disabled", "PendingImport"] as const;

export const tagListMember = z.array(
  z.object({ TagKey: z.string().min(1).max(128), TagValue: z.string().max(256) }),
);

/** Add or replace tags, all or none: the limit and the reserved prefix are checked before any change. */
export function addTags(key: KmsKey, tags: z.output<typeof tagListMember>): void {
  const reserved = tags.find((tag) => tag.TagKey.toLowerCase().startsWith("aws:"));
  if (reserved) throw tagError(`Tag key '${reserved.TagKey}' uses the reserved prefix aws:`);
  const keys = new Set([...key.tags.keys(), ...tags.map((tag) => tag.TagKey)]);
  if (keys.size > MAX_TAGS_PER_KEY) {
    throw tagError(`A KMS key can have at most ${MAX_TAGS_PER_KEY} tags`);
  }
  for (const tag of tags) key.tags.set(tag.TagKey, tag.TagValue);
}

const TagResourceInput = z.object({ KeyId: keyIdMember, Tags: tagListMember });

export function tagResource(input: unknown, context: OperationContext): OperationOutput {
  const request = parseInput(TagResourceInput, input);
  const key = findKey(context, request.KeyId, { aliases: false });
  requireState(key, TAGGABLE);
  addTags(key, request.Tags);
  return {};
}

const UntagResourceInput = z.object({
  KeyId: keyIdMember,
  TagKeys: z.array(z.string().min(1).max(128)),
});

export function untagResource(input: unknown, context: OperationContext): OperationOutput {
  const request = parseInput(UntagResourceInput, input);
  const key = findKey(context, request.KeyId, { aliases: false });
  requireState(key, TAGGABLE);
  for (const tagKey of request.TagKeys) key.tags.delete(tagKey);
  return {};
}

const ListResourceTagsInput = z.object({
  KeyId: keyIdMember,
  Limit: z.number().int().min(1).max(50).optional(),
  Marker: z.string().min(1).max(1024).optional(),
});

export function listResourceTags(input: unknown, context: OperationContext): OperationOutput {
  const request = parseInput(ListResourceTagsInput, input);
  const key = findKey(context, request.KeyId, { aliases: false });
  const tags = [...key.tags].map(([TagKey, TagValue]) => ({ TagKey, TagValue }));
  const { items, ...paging } = page(tags, request.Limit ?? 50, request.Marker);
  return { Tags: items, ...paging };
}
