import { badParameter } from "./errors.js";

/**
 * Key Vault's paging: `maxresults` (1..25, 25 by default) and a `nextLink` that is a full URL with an opaque
 * `$skiptoken`, which the SDK follows as given. Items must come sorted by `sortKey`; the token is the last
 * key of the page, so deleting or adding keys between pages neither repeats nor skips the others.
 */

const MAX_RESULTS = 25;

export interface Page {
  value: unknown[];
  nextLink: string | null;
}

export function page<T>(
  items: readonly T[],
  sortKey: (item: T) => string,
  render: (item: T) => unknown,
  request: { url: string; vaultUrl: string; path: string },
): Page {
  const query = new URLSearchParams(
    request.url.includes("?") ? request.url.slice(request.url.indexOf("?") + 1) : "",
  );
  const max = parseMaxResults(query.get("maxresults"));
  const token = query.get("$skiptoken");
  const after = token === null ? undefined : decodeToken(token);
  const remaining = after === undefined ? items : items.filter((item) => sortKey(item) > after);
  const selected = remaining.slice(0, max);
  const last = selected[selected.length - 1];
  if (remaining.length <= max || last === undefined) return { value: selected.map(render), nextLink: null };
  const next = new URLSearchParams({
    "api-version": query.get("api-version") ?? "",
    $skiptoken: Buffer.from(sortKey(last), "utf8").toString("base64url"),
    maxresults: String(max),
  });
  return { value: selected.map(render), nextLink: `${request.vaultUrl}${request.path}?${next.toString()}` };
}

function parseMaxResults(text: string | null): number {
  if (text === null || text === "") return MAX_RESULTS;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > MAX_RESULTS) {
    throw badParameter(`The value of maxresults must be between 1 and ${MAX_RESULTS}.`);
  }
  return value;
}

function decodeToken(token: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(token)) throw badParameter("The $skiptoken is not valid.");
  return Buffer.from(token, "base64url").toString("utf8");
}
