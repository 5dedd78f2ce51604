/** OpenAPI facts every protected route shares. */
export function docs(tag: string, summary: string, description?: string) {
  return {
    tags: [tag],
    summary,
    ...(description ? { description } : {}),
    security: [{ bearer: [] }],
  };
}

/** Appended to the description of every mutating route. */
export const IDEMPOTENT =
  "Accepts `Idempotency-Key` (scoped to the token, kept 24 h): a replay answers the original status and body " +
  "with `Idempotent-Replayed: true`; the same key with another request is 422 `idempotency_key_reused`; " +
  "while the first is being accepted, 409 `idempotency_in_flight`.";
