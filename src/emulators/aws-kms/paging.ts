import { invalidMarker } from "./errors.js";

/**
 * Limit/Marker paging of the List* operations: a page of at most `limit` items, and when more remain,
 * `Truncated: true` with a `NextMarker` to pass back. Markers are opaque to callers; a marker that this
 * emulator did not issue answers InvalidMarkerException, as the service does.
 */
export interface Page<T> {
  items: T[];
  Truncated: boolean;
  NextMarker?: string;
}

const PREFIX = "kfm1:";

export function page<T>(all: readonly T[], limit: number, marker: string | undefined): Page<T> {
  const start = marker === undefined ? 0 : offsetOf(marker);
  const items = all.slice(start, start + limit);
  const next = start + items.length;
  if (next >= all.length) return { items, Truncated: false };
  return { items, Truncated: true, NextMarker: Buffer.from(`${PREFIX}${next}`).toString("base64url") };
}

function offsetOf(marker: string): number {
  const text = Buffer.from(marker, "base64url").toString("utf8");
  const offset = text.startsWith(PREFIX) ? Number(text.slice(PREFIX.length)) : Number.NaN;
  if (!Number.isSafeInteger(offset) || offset < 0) throw invalidMarker("The marker is not valid.");
  return offset;
}
